"""The pause timeout, swept every minute: a job left paused longer than PAUSE_TIMEOUT_SECONDS is
cancelled and refunded like any cancel, so its credits do not stay reserved forever."""

from __future__ import annotations

from genjobs.logic.ports import Collaborators
from genjobs.models.domain import JobStatus, TimelineEvent
from genjobs.observability import logger


def expire_pauses(deps: Collaborators) -> int:
    """Cancels the jobs left paused longer than the pause timeout (refunded like any cancel), so
    their credits do not stay reserved forever. The sweeper's."""
    timeout = deps.settings.pause_timeout_seconds
    now = deps.clock.now()
    expired = 0
    for job_id in deps.pauses.paused_since(now - deps.clock.duration(timeout)):
        job = deps.jobs.get(job_id)
        if job is not None and job.paused and job.status in {JobStatus.PENDING, JobStatus.PROCESSING}:
            detail_ = {
                "pausedAt": job.paused_at.isoformat() if job.paused_at else None,
                "timeoutSeconds": timeout,
            }
            event = TimelineEvent(jobId=job_id, at=now, kind="job.pause_expired", detail=detail_)
            if deps.jobs.request_cancel(job, event) is not None:
                deps.dispatch_queue.nudge(job_id=job_id)  # its parked tasks end CANCELLED
                logger.warning("paused job cancelled: left paused too long", extra={"jobId": job_id})
                expired += 1
        deps.pauses.clear(job_id, now)
    return expired
