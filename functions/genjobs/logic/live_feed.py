"""The live channel's numbered changes as the API lists them: the resync after a reconnect."""

from __future__ import annotations

from genjobs.logic.errors import NotFound
from genjobs.logic.live_ports import LiveFeedPorts
from genjobs.models.live import LiveChange


def changes_after(
    ports: LiveFeedPorts, user_id: str, job_id: str, after: int, limit: int
) -> list[LiveChange]:
    """What the channel sent of the job after change number `after`, oldest first."""
    job = ports.jobs.get(job_id)
    if job is None or job.user_id != user_id:  # another user's job does not exist for this caller
        raise NotFound(f"no job '{job_id}'")
    return ports.live.after(job_id, after, limit)
