"""Signal steps: a pipeline task that waits for the app (POST /jobs/{id}/signals/{name}), e.g. its
user approving a script before video is paid for; its timeout decides when nobody answers.

The waiting task holds its child's token and a sweep mark (like a webhook task): the app's signal
ends it at once; the sweeper heartbeats it and applies `onTimeout` when its time is up. Whoever
moves the task answers the token, once.
"""

from __future__ import annotations

from typing import Any

from genjobs.logic.chains import answer_after
from genjobs.logic.errors import Conflict, NotFound
from genjobs.logic.ports import Collaborators
from genjobs.logic.task_answer import DONE, Wait
from genjobs.logic.task_end import end_task, ended_or_cancelled, load, task_event
from genjobs.models.domain import Job, StepKind, StepSummary, Task, TaskStatus, is_job_id
from genjobs.models.messages import TaskRef
from genjobs.models.persistence import Accepted

WAITING = "signal"  # the provider id a waiting signal task carries


def _step(job: Job, task: Task) -> StepSummary:
    return job.steps[job.step_of(task.index)]


def is_signal(job: Job, task: Task) -> bool:
    return bool(job.steps) and _step(job, task).kind == StepKind.SIGNAL


def _decide(deps: Collaborators, job: Job, task: Task, signal: dict[str, Any]) -> bool:
    """Ends the task as the signal says; True for the one caller whose move ended it."""
    if signal.get("decision") == "reject":
        reason = signal.get("reason") or "rejected by the app"
        return end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=f"signal.rejected: {reason}")
    return end_task(
        deps,
        job,
        task,
        TaskStatus.COMPLETED,
        "task.completed",
        result=signal.get("data") or {},
        progress=100.0,
    )


def await_signal(deps: Collaborators, job: Job, task: Task, token: str) -> Wait | None:
    """The submitter's turn at a signal task: DONE when it has its answer already, else it waits
    (None: the signal, the sweeper or a cancel answers the token)."""
    if ended_or_cancelled(deps, job, task, "job cancelled before its signal"):
        return DONE
    if task.signal is not None:
        _decide(deps, job, task, task.signal)
        return DONE
    ref = TaskRef(jobId=job.job_id, taskIndex=task.index)
    if task.status == TaskStatus.PENDING:
        now = deps.clock.now()
        wait = min(_step(job, task).timeout_seconds or 60, deps.settings.sweep_backoff_max_seconds)
        accepted = Accepted(WAITING, now, token, now + deps.clock.duration(wait))
        event = task_event(job.job_id, "task.waiting_signal", task.index, step=_step(job, task).name)
        if not deps.tasks.mark_submitted(job, task.index, accepted, event):
            _, task = load(deps, ref)  # moved meanwhile (a cancel ended it): nothing holds the token
            return DONE if task.status.terminal else None
    else:
        deps.tasks.attach_token(job.job_id, task.index, token)
    # A signal recorded while the wait began is applied now (its sender saw no token to answer).
    _, task = load(deps, ref)
    if task.signal is not None and not task.status.terminal and _decide(deps, job, task, task.signal):
        return DONE
    return None


def send(deps: Collaborators, user_id: str, job_id: str, name: str, signal: dict[str, Any]) -> dict[str, Any]:
    """The app's signal to step `name`: kept on its task and, when the task waits, applied now."""
    job = deps.jobs.get(job_id) if is_job_id(job_id) else None
    if job is None or job.user_id != user_id:
        raise NotFound(f"no job '{job_id}'")
    step = next((s for s in job.steps if s.name == name and s.kind == StepKind.SIGNAL), None)
    if step is None:
        raise NotFound(f"job '{job_id}' has no signal step named '{name}'")
    if job.status.terminal:
        raise Conflict(f"job '{job_id}' already ended {job.status.value}")
    task = deps.tasks.get(job_id, step.base)
    if task is None:
        raise Conflict(f"job '{job_id}' has not started yet; send the signal again in a moment")
    if task.status.terminal:
        raise Conflict(f"step '{name}' already ended {task.status.value}")
    if not deps.tasks.record_signal(job_id, step.base, signal):
        raise Conflict(f"step '{name}' already has its signal")
    deps.timeline.add(
        task_event(job_id, "task.signal_received", step.base, step=name, decision=signal["decision"])
    )
    ref = TaskRef(jobId=job_id, taskIndex=step.base)
    job, task = load(deps, ref)
    token = task.task_token
    if task.status == TaskStatus.PROCESSING and token and _decide(deps, job, task, signal):
        answer_after(deps, token, DONE, job, ref.task_index)
    return {"jobId": job_id, "step": name, "decision": signal["decision"]}


def sweep(deps: Collaborators, job: Job, task: Task) -> bool:
    """The sweeper's visit of a waiting signal task: a cancelled job or a timeout ends it, else it is
    kept alive. True when it ended."""
    token = task.task_token
    step = _step(job, task)
    waited = deps.clock.seconds_since(task.submitted_at) if task.submitted_at else 0.0
    moved = False
    if task.status.terminal:
        moved = True
    elif job.cancel_requested:
        moved = end_task(
            deps,
            job,
            task,
            TaskStatus.CANCELLED,
            "task.cancelled",
            reason="job cancelled while waiting for its signal",
        )
    elif task.signal is not None:
        moved = _decide(deps, job, task, task.signal)
    elif waited >= (step.timeout_seconds or 0):
        moved = _time_out(deps, job, task, step)
    if not moved and not task.status.terminal:
        left = max(1.0, (step.timeout_seconds or 0) - waited)
        due = deps.clock.now() + deps.clock.duration(min(left, deps.settings.sweep_backoff_max_seconds))
        deps.tasks.sweep_again_at(job.job_id, task.index, due)
        if token:
            deps.workflow.heartbeat(token)
        return False
    if moved and token:
        answer_after(deps, token, DONE, job, task.index)
    return True


def _time_out(deps: Collaborators, job: Job, task: Task, step: StepSummary) -> bool:
    reason = f"signal.timeout: no signal within {step.timeout_seconds} s"
    if step.on_timeout == "proceed":
        return end_task(
            deps, job, task, TaskStatus.COMPLETED, "task.completed", result={"timedOut": True}, progress=100.0
        )
    if step.on_timeout == "skip":
        return end_task(deps, job, task, TaskStatus.SKIPPED, "task.skipped", error=reason, reason=reason)
    return end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=reason)
