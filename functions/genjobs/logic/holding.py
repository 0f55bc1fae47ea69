"""A provider's 429 with a reset hint, in fair mode: no task of its pool is admitted until then, so
the tasks arriving meanwhile wait held (not retried by SQS). The throttled task itself keeps its
slot and comes back by its message, as before: a provider that throttles forever still ends in the
dead-letter queue, in bounded time."""

from __future__ import annotations

from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import task_event
from genjobs.models.domain import Job, Task


def block_pool(deps: Collaborators, job: Job, task: Task, retry_after_seconds: float) -> None:
    if task.slot is None:  # fifo mode: nothing is admitted, nothing to block
        return
    until = deps.clock.now() + deps.clock.duration(max(1.0, retry_after_seconds))
    deps.slots.block(job.provider, until)
    deps.timeline.add(
        task_event(job.job_id, "pool.blocked", task.index, pool=job.provider, until=until.isoformat())
    )
    # The pool's held tasks are looked at again once it opens.
    deps.dispatch_queue.nudge(pool=job.provider, delay_seconds=round(-deps.clock.seconds_since(until)) + 1)
