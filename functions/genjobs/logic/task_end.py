"""How a task ends: loading it and its terminal move (charging or releasing its credits, and giving
back the slot fair dispatch gave it, once).
It uses the tables alone (no provider, output or workflow code), so FailTask, which only ends
tasks, loads nothing else and is given no other setting.
"""

from __future__ import annotations

from typing import Any

from genjobs.logic.ports import Collaborators
from genjobs.models.domain import Job, Task, TaskStatus, TimelineEvent, utcnow
from genjobs.models.messages import FailTaskInput, TaskRef
from genjobs.models.persistence import TaskMove
from genjobs.observability import metrics


class TaskGone(Exception):
    """The job or task does not exist (a replayed event of a deleted job, or a forged reference)."""


def task_event(job_id: str, kind: str, index: int | None, **detail: Any) -> TimelineEvent:
    return TimelineEvent(jobId=job_id, at=utcnow(), kind=kind, taskIndex=index, detail=detail)


def load(deps: Collaborators, ref: TaskRef) -> tuple[Job, Task]:
    job = deps.jobs.get(ref.job_id)
    task = deps.tasks.get(ref.job_id, ref.task_index) if job else None
    if job is None or task is None:
        raise TaskGone(f"job {ref.job_id} task {ref.task_index} does not exist")
    # A pipeline's task runs on its step's provider and model.
    return job.for_task(task.index), task


def end_task(deps: Collaborators, job: Job, task: Task, to: TaskStatus, kind: str, **fields: Any) -> bool:
    """Moves a task to a terminal status (charging or releasing its credits) once."""
    detail = {k: v for k, v in fields.items() if k in {"error", "reason"} and v is not None}
    if to == TaskStatus.COMPLETED:
        detail["charged"] = job.price_of(task.index)
    else:
        detail["refunded"] = job.price_of(task.index)
    move = TaskMove(
        task.status,
        to,
        {k: v for k, v in fields.items() if k != "reason"},
        attempt=task.attempt,
        slot=task.slot,
    )
    moved = deps.tasks.end(job, task.index, move, task_event(job.job_id, kind, task.index, **detail))
    if moved:
        metrics.add_metric(name=f"Tasks{to.value.capitalize()}", unit="Count", value=1)
    if moved and task.slot is not None and deps.slots.pool(job.provider).held:
        # Its slot was given back with its end: the dispatcher fills it from what waits (a pass
        # costs a message and an invocation: none when nothing waits).
        deps.dispatch_queue.nudge(pool=job.provider)
    if moved and to == TaskStatus.COMPLETED and task.submitted_at is not None:
        latency = deps.clock.seconds_since(task.submitted_at)  # submission to completion
        metrics.add_metric(name="ProviderLatency", unit="Seconds", value=latency)
    return moved


def ended_or_cancelled(deps: Collaborators, job: Job, task: Task, reason: str) -> bool:
    """True when the task needs nothing more: it has ended, or its job was cancelled (it ends
    CANCELLED now, refunded, for `reason`)."""
    if task.status.terminal:
        return True
    if job.cancel_requested:
        end_task(deps, job, task, TaskStatus.CANCELLED, "task.cancelled", reason=reason)
        return True
    return False


def fail(deps: Collaborators, failed: FailTaskInput) -> None:
    """The state machine caught an error for this task: it ends FAILED unless it already ended."""
    try:
        job, task = load(deps, failed)
    except TaskGone:
        return
    if task.status.terminal:
        return
    end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=failed.error.describe()[:1000])
