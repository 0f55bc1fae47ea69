"""Domain objects -> API views (short-lived output URLs, percent progress)."""

from __future__ import annotations

from genjobs.logic.ports import ObjectStore
from genjobs.models.api import (
    AttemptView,
    CountsView,
    CreditsView,
    JobDetailView,
    JobView,
    OutputView,
    PlanView,
    StepCreditsView,
    StepView,
    TaskView,
)
from genjobs.models.domain import Job, Task, TaskStatus


def progress(job: Job, tasks: list[Task] | None = None) -> float:
    """Percent done: ended tasks count whole; running tasks add their provider progress when known.

    With every task at hand the figure is the sum of each task's own share, read from the task
    items alone: each share only grows, so a later read never shows less (mixing the job's counters,
    read a moment earlier, with tasks read a moment later could).
    """
    if job.task_count == 0:
        return 100.0
    if tasks is not None and len(tasks) == job.task_count:
        done = sum(_share(t) for t in tasks)
    else:
        done = float(job.counts.terminal)
    return round(min(100.0, 100.0 * done / job.task_count), 1)


def _share(task: Task) -> float:
    if task.status.terminal:
        return 1.0
    if task.status == TaskStatus.PROCESSING:
        return min(1.0, max(0.0, (task.progress or 0.0) / 100.0))
    return 0.0


def job_view(job: Job) -> JobView:
    return JobView.model_validate(_job_fields(job, None))


def job_detail_view(
    job: Job, tasks: list[Task], cursor: str | None, storage: ObjectStore, ttl: int
) -> JobDetailView:
    fields = _job_fields(job, tasks)
    fields["tasks"] = [task_view(t, storage, ttl, job) for t in tasks]
    fields["tasksCursor"] = cursor
    return JobDetailView.model_validate(fields)


def step_views(job: Job) -> list[StepView]:
    views = []
    for summary, state in zip(job.steps, job.step_states, strict=True):
        size = summary.slots if state.size is None else state.size
        counts = {s.value: state.counts.get(s) for s in TaskStatus}
        counts["PENDING"] = max(0, size - state.counts.processing - state.counts.terminal)
        if job.status.terminal:  # settled: nothing of it is left to run
            counts["PENDING"] = 0
        done = state.counts.terminal
        views.append(
            StepView(
                **summary.model_dump(include={"name", "kind", "provider", "model", "final"}),
                size=state.size,
                maxSize=summary.slots,
                counts=CountsView(**counts),
                progress=100.0 if size == 0 else round(min(100.0, 100.0 * done / size), 1),
                credits=StepCreditsView(
                    unitPrice=summary.price,
                    reserved=summary.slots * summary.price + state.retried,
                    charged=state.charged,
                    refunded=state.refunded,
                ),
            )
        )
    return views


def _job_fields(job: Job, tasks: list[Task] | None) -> dict[str, object]:
    return {
        "jobId": job.job_id,
        "status": job.shown_status,
        "provider": job.provider or None,
        "model": job.model or None,
        "steps": step_views(job),
        "collectionId": job.collection_id,
        "metadata": job.metadata,
        "plan": PlanView(
            taskCount=job.task_count, unitPrice=job.credits.unit_price, creditsReserved=job.credits.reserved
        ),
        "concurrency": job.concurrency,
        "counts": CountsView(**{s.value: job.counts.get(s) for s in TaskStatus}),
        "progress": progress(job, tasks),
        "credits": CreditsView(
            unitPrice=job.credits.unit_price,
            reserved=job.credits.reserved,
            charged=job.credits.charged,
            refunded=job.credits.refunded,
        ),
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "startedAt": job.started_at,
        "cancelRequestedAt": job.cancel_requested_at,
        "pausedAt": job.paused_at,
        "finishedAt": job.finished_at,
        "retries": job.retries,
    }


def task_view(task: Task, storage: ObjectStore, ttl: int, job: Job | None = None) -> TaskView:
    step = job.steps[job.step_of(task.index)] if job is not None and job.steps else None
    return TaskView(
        index=task.index,
        step=step.name if step else None,
        item=task.index - step.base if step else None,
        result=task.result,
        status=task.status,
        input=task.input,
        progress=100.0 if task.status == TaskStatus.COMPLETED else task.progress,
        error=task.error,
        providerId=task.provider_id,
        outputs=[
            OutputView(url=storage.presign(o.key, ttl), contentType=o.content_type, size=o.size)
            for o in task.outputs
        ],
        submittedAt=task.submitted_at,
        finishedAt=task.finished_at,
        attempt=task.attempt,
        attempts=[AttemptView.model_validate(a.model_dump(by_alias=True)) for a in task.attempts],
    )
