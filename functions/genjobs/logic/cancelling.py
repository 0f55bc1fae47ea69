"""Asking an active job to cancel (its user's request, or an operator's bulk operation)."""

from __future__ import annotations

from genjobs.logic.ports import Collaborators
from genjobs.models.domain import Job, JobStatus, TimelineEvent, utcnow
from genjobs.models.persistence import QueueUnavailable
from genjobs.observability import logger


def request_cancel(deps: Collaborators, job: Job, by: str) -> Job | None:
    """An active job becomes CANCELLING, its in-flight tasks asked to stop now: the job as it now
    is, or None when it was not active (any more)."""
    if job.status not in {JobStatus.PENDING, JobStatus.PROCESSING}:
        return None
    event = TimelineEvent(jobId=job.job_id, at=utcnow(), kind="job.cancel_requested", detail={"by": by})
    cancelling = deps.jobs.request_cancel(job, event)
    if cancelling is not None:
        _cancel_in_flight_now(deps, job)
        if job.paused:  # its parked tasks go back to the submitter, which cancels them
            deps.dispatch_queue.nudge(job_id=job.job_id)
    return cancelling


def _cancel_in_flight_now(deps: Collaborators, job: Job) -> None:
    """Asks the submitter to stop the job's in-flight tasks at their provider now (a webhook wait has
    no wake-up of its own). Best effort: the cancel is recorded, and the sweeper's next pass sends
    whatever this message did not."""
    try:
        deps.submit_queue.cancel_in_flight(job.job_id, job.user_id)
    except QueueUnavailable:
        logger.warning("provider cancel left to the sweeper", extra={"jobId": job.job_id}, exc_info=True)
