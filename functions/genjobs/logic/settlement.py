"""The end of a job: close any task left open, settle credits once, publish one completion event."""

from __future__ import annotations

from typing import Any

from genjobs.deps import Deps
from genjobs.logic.tasks import TaskRef, cancel_at_provider, end_task, load
from genjobs.models.domain import Job, JobStatus, TaskStatus, TimelineEvent, utcnow
from genjobs.observability import metrics


def final_status(job: Job) -> JobStatus:
    if job.cancel_requested and job.counts.completed < job.task_count:
        return JobStatus.CANCELLED
    if job.counts.completed == 0:
        return JobStatus.FAILED
    return JobStatus.COMPLETED


def _close_open_tasks(deps: Deps, job: Job) -> None:
    """Tasks the workflow left open (it failed, or was stopped) end now, so nothing stays reserved."""
    for task in deps.table.iter_tasks(job.job_id):
        if task.status.terminal:
            continue
        if task.status == TaskStatus.PROCESSING:
            _, fresh = load(deps, TaskRef(jobId=job.job_id, taskIndex=task.index))
            try:
                cancel_at_provider(deps, job, fresh, by="settlement")
            except Exception:  # noqa: BLE001 - best effort; the task is closed either way
                pass
        to = TaskStatus.CANCELLED if job.cancel_requested else TaskStatus.FAILED
        end_task(
            deps, job, task, to, f"task.{to.value.lower()}", reason="the job's workflow ended before the task"
        )


def job_event(job: Job) -> dict[str, Any]:
    return {
        "type": f"job.{job.status.value.lower()}",
        "jobId": job.job_id,
        "userId": job.user_id,
        "status": job.status.value,
        "collectionId": job.collection_id,
        "counts": job.counts.model_dump(),
        "credits": job.credits.model_dump(by_alias=True),
        "finishedAt": job.finished_at.isoformat() if job.finished_at else None,
    }


def settle(deps: Deps, job_id: str) -> dict[str, Any]:
    job = deps.table.get_job(job_id)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    if not job.status.terminal:
        if job.counts.terminal < job.task_count:
            _close_open_tasks(deps, job)
            job = deps.table.get_job(job_id) or job
        status = final_status(job)
        release = job.credits.outstanding  # reserved for tasks that never had a task item
        event = TimelineEvent(
            jobId=job_id,
            at=utcnow(),
            kind="job.settled",
            detail={
                "status": status.value,
                "charged": job.credits.charged,
                "refunded": job.credits.refunded + release,
            },
        )
        unstarted_as = TaskStatus.CANCELLED if job.cancel_requested else TaskStatus.FAILED
        if deps.table.finish_job(job, status, release, event, unstarted_as=unstarted_as):
            metrics.add_metric(name=f"Jobs{status.value.capitalize()}", unit="Count", value=1)
        job = deps.table.get_job(job_id) or job
    deps.checkpoints.reach("settle.after_finish", job.user_id, job_id)
    if job.event_published_at is None:
        # Published before it is marked: a crash in between publishes again, and the notifier
        # sends each device at most one push per job, so the user sees one push either way.
        deps.notifications.publish_job_event(job_event(job), event_type=f"job.{job.status.value.lower()}")
        deps.checkpoints.reach("settle.after_publish", job.user_id, job_id)
        if deps.table.mark_event_published(job_id):
            deps.table.add_event(TimelineEvent(jobId=job_id, at=utcnow(), kind="job.event_published"))
    return {"jobId": job_id, "status": job.status.value}
