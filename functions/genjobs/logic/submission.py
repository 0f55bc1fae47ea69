"""The submitter's turn at a task (SubmitQueue): by its step's kind. A provider task is submitted
(logic.tasks) once admitted into a slot (logic.admission: else held, its token parked), a sync or
app-function task goes on to the RunQueue (a longer-running consumer), a signal task waits for the
app (logic.signals). Its token is answered unless something else will."""

from __future__ import annotations

from genjobs.logic.admission import admit
from genjobs.logic.chains import answer_after
from genjobs.logic.ports import Collaborators
from genjobs.logic.signals import await_signal, is_signal
from genjobs.logic.task_end import TaskGone, load
from genjobs.logic.tasks import submit_task
from genjobs.models.domain import StepKind
from genjobs.models.messages import SubmitTask


def submit(deps: Collaborators, message: SubmitTask, receive_count: int) -> None:
    """Submits a task once (its idempotency key makes a redelivery get the same prediction) and
    answers its token unless a webhook will. RetryLater: throttled or transient, redelivered later."""
    token = message.task_token
    try:
        job, task = load(deps, message)
        kind = job.steps[job.step_of(task.index)].kind if job.steps else StepKind.ASYNC
        live = not task.status.terminal and not job.cancel_requested
        if live:
            admitted = admit(deps, job, task, token)
            if admitted is None:
                return  # held: the dispatcher hands its token back when a slot is free
            task = admitted
        if kind in (StepKind.SYNC, StepKind.LAMBDA) and live:
            deps.run_queue.send_task(message, job.user_id)
            return
        if is_signal(job, task):
            left = await_signal(deps, job, task, token)
        else:
            left = submit_task(deps, job, task, token, receive_count)
    except TaskGone:
        deps.workflow.fail(token, "TaskGone", "the task no longer exists")
        return
    if left is not None:
        answer_after(deps, token, left, job, message.task_index)
