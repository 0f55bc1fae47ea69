"""Answering a task's waiting SubmitTask (its callback token): its child ends, or waits for the
provider and checks the task. With task_end, all a function needs to end a task whose submission
failed for good, without any provider or output code.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum

from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import TaskGone, end_task, load
from genjobs.models.domain import TaskStatus
from genjobs.models.messages import POLL_PROVIDER, TaskEnded, TaskRef


class Wait(StrEnum):
    """What is left to wait for after a step of a task: nothing (DONE), or the provider (RUNNING)."""

    DONE = "DONE"
    RUNNING = "RUNNING"


DONE, RUNNING = Wait.DONE, Wait.RUNNING


def answer(deps: Collaborators, token: str, left: Wait) -> bool:
    """Answers a task's waiting SubmitTask: its child ends (DONE), or waits for the provider and
    then checks the task (RUNNING). False when the token no longer waits."""
    if left is DONE:
        return deps.workflow.succeed(token, TaskEnded())
    return deps.workflow.fail(token, POLL_PROVIDER, "the task runs at the provider: check it later")


def give_up_submission(deps: Collaborators, ref: TaskRef, token: str, reason: str) -> None:
    """A poison submission (its message reached the DLQ): the task fails, is refunded, its child ends."""
    with contextlib.suppress(TaskGone):
        job, task = load(deps, ref)
        if not task.status.terminal:
            end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=reason)
    answer(deps, token, DONE)
