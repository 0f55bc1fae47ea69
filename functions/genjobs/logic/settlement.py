"""The end of a job: close any task left open, settle credits once, publish one completion event."""

from __future__ import annotations

from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import end_task, task_event
from genjobs.logic.tasks import cancel_at_provider
from genjobs.models.domain import Job, JobStatus, TaskStatus, TimelineEvent, utcnow
from genjobs.models.messages import JobEvent, SettleJobOutput
from genjobs.observability import metrics


def final_status(job: Job) -> JobStatus:
    if job.cancel_requested and job.counts.completed < job.task_count:
        return JobStatus.CANCELLED
    if job.counts.completed == 0:
        return JobStatus.FAILED
    finals = [state for summary, state in zip(job.steps, job.step_states, strict=True) if summary.final]
    if any(state.counts.completed == 0 for state in finals):
        # A pipeline delivers what its last steps make: one of them made nothing (skipped, failed).
        return JobStatus.FAILED
    return JobStatus.COMPLETED


def _close_open_tasks(deps: Collaborators, job: Job) -> Job | None:
    """Tasks the workflow left open (it failed, or was stopped) end now, so nothing stays reserved.
    Returns the job as these ends left it, or None when another step moved one of the tasks first
    (then only a new read knows the job's counts)."""
    closed: Job | None = job
    for task in deps.tasks.of_job(job.job_id):
        if task.status.terminal:
            continue
        if task.status == TaskStatus.PROCESSING:
            fresh = deps.tasks.get(job.job_id, task.index) or task
            try:
                cancel_at_provider(deps, job.for_task(task.index), fresh, by="settlement")
            except Exception:  # noqa: BLE001 - best effort; the task is closed either way
                pass
        to = TaskStatus.CANCELLED if job.cancel_requested else TaskStatus.FAILED
        # A job cancelled before its tasks ran comes here straight from PrepareJob.
        unsubmitted = job.cancel_requested and task.status == TaskStatus.PENDING
        reason = (
            "job cancelled before submission" if unsubmitted else "the job's workflow ended before the task"
        )
        ended = end_task(deps, job, task, to, f"task.{to.value.lower()}", reason=reason)
        closed = _released(closed, task.status, to, job.price_of(task.index)) if ended and closed else None
    return closed


def _released(job: Job, was: TaskStatus, to: TaskStatus, price: int) -> Job:
    """The job after one of its tasks moved from `was` to `to` (FAILED or CANCELLED: refunded)."""
    counts = job.counts.model_copy(
        update={was.value.lower(): job.counts.get(was) - 1, to.value.lower(): job.counts.get(to) + 1}
    )
    credits = job.credits.model_copy(update={"refunded": job.credits.refunded + price})
    return job.model_copy(update={"counts": counts, "credits": credits})


def settle(deps: Collaborators, job_id: str) -> SettleJobOutput:
    job = deps.jobs.get(job_id)  # read once: every write below says what it changed
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    if not job.status.terminal:
        if job.counts.terminal < job.task_count:
            job = _close_open_tasks(deps, job) or deps.jobs.get(job_id) or job
            if job.steps:  # its steps' counters, which the ends above moved too
                job = deps.jobs.get(job_id) or job
        status = final_status(job)
        release = job.credits.outstanding  # reserved for tasks that never had a task item
        event = task_event(
            job_id,
            "job.settled",
            None,
            status=status.value,
            charged=job.credits.charged,
            refunded=job.credits.refunded + release,
        )
        unstarted_as = TaskStatus.CANCELLED if job.cancel_requested else TaskStatus.FAILED
        finished = deps.jobs.finish(job, status, release, event, unstarted_as=unstarted_as)
        if finished is not None:
            metrics.add_metric(name=f"Jobs{status.value.capitalize()}", unit="Count", value=1)
        # Ended by a concurrent settlement: read what it wrote.
        job = finished or deps.jobs.get(job_id) or job
    deps.checkpoints.reach("settle.after_finish", job.user_id, job_id)
    if job.event_published_at is None:
        # Published before it is marked: a crash in between publishes again, and the notifier
        # sends each device at most one push per job, so the user sees one push either way.
        deps.notifications.publish_job_event(JobEvent.of(job))
        deps.checkpoints.reach("settle.after_publish", job.user_id, job_id)
        if deps.jobs.mark_event_published(job_id):
            deps.timeline.add(TimelineEvent(jobId=job_id, at=utcnow(), kind="job.event_published"))
    return SettleJobOutput(jobId=job_id, status=job.status)
