"""Pausing and resuming a job (POST /jobs/{id}/pause, /resume). A paused job submits nothing new:
its tasks that reach the submitter are parked under the job (logic.admission), those in flight
finish and are kept. Resuming hands the parked tasks back to the submitter (through the
dispatcher), cancelling a paused job does too (the submitter then cancels them), and the sweeper
cancels a job left paused longer than PAUSE_TIMEOUT_SECONDS, refunded like a cancel."""

from __future__ import annotations

from genjobs.logic.errors import Conflict, NotFound
from genjobs.logic.jobs import detail
from genjobs.logic.ports import Collaborators
from genjobs.models.api import JobDetailView
from genjobs.models.domain import Job, JobStatus, TimelineEvent, is_job_id


def _job(deps: Collaborators, user_id: str, job_id: str) -> Job:
    # The owner's alone, like a cancel: another user's job (an operator's too) does not exist for them.
    job = deps.jobs.get(job_id) if is_job_id(job_id) else None
    if job is None or job.user_id != user_id:
        raise NotFound(f"no job '{job_id}'")
    return job


def pause_job(deps: Collaborators, user_id: str, job_id: str) -> JobDetailView:
    """Idempotent: pausing a paused job answers it as it is. Only an active job not cancelling may
    be paused (Conflict otherwise, saying why)."""
    job = _job(deps, user_id, job_id)
    if not job.paused and job.status in {JobStatus.PENDING, JobStatus.PROCESSING}:
        event = TimelineEvent(jobId=job_id, at=deps.clock.now(), kind="job.paused", detail={"by": user_id})
        job = deps.pauses.pause(job, event) or _job(deps, user_id, job_id)
    if job.status.terminal:
        raise Conflict(f"job '{job_id}' already ended {job.status.value}; there is nothing to pause")
    if job.cancel_requested:
        raise Conflict(f"job '{job_id}' is being cancelled; it cannot be paused")
    return detail(deps, user_id, job)


def resume_job(deps: Collaborators, user_id: str, job_id: str) -> JobDetailView:
    """Idempotent: resuming a job that is not paused answers it as it is."""
    job = _job(deps, user_id, job_id)
    if job.paused:
        event = TimelineEvent(jobId=job_id, at=deps.clock.now(), kind="job.resumed", detail={"by": user_id})
        resumed = deps.pauses.resume(job, event)
        if resumed is not None:
            deps.dispatch_queue.nudge(job_id=job_id)  # its parked tasks go back to dispatch
            job = resumed
        else:
            job = _job(deps, user_id, job_id)
    return detail(deps, user_id, job)
