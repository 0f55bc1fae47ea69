"""A task that gives its slot back without ending: a provider's 429 with a reset hint blocks its
pool until then, and the task waits its turn again among the held ones (logic.dispatch), its token
parked, instead of coming back by SQS's visibility timeout."""

from __future__ import annotations

from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import task_event
from genjobs.models.domain import Job, Task
from genjobs.models.persistence import Held


def throttled(deps: Collaborators, job: Job, task: Task, token: str, retry_after_seconds: float) -> bool:
    """False when the task holds no slot (fifo mode): the caller retries it as before."""
    slot = task.slot
    if slot is None:
        return False
    until = deps.clock.now() + deps.clock.duration(max(1.0, retry_after_seconds))
    deps.slots.block(job.provider, until)
    # It keeps its place in line: held since it first waited (or was admitted).
    held = Held(job.job_id, task.index, job.user_id, slot.priority, slot.at)
    if not deps.slots.give_back(job.job_id, task.index, slot, held, job.provider, token):
        return False
    event = task_event(job.job_id, "task.held", task.index, pool=job.provider, blockedUntil=until.isoformat())
    deps.timeline.add(event)
    deps.dispatch_queue.nudge(pool=job.provider, delay_seconds=round(-deps.clock.seconds_since(until)) + 1)
    return True
