"""The end of a task whose child workflow waits on a token: a pipeline task hands the token on to
the next link of its item's chain (logic.scheduler.continue_chain) instead of ending its child, so
scene 1's avatar is submitted the moment scene 1's speech is kept, within the same child."""

from __future__ import annotations

from genjobs.logic.ports import Collaborators
from genjobs.logic.scheduler import continue_chain
from genjobs.logic.task_answer import DONE, Wait, answer
from genjobs.models.domain import Job
from genjobs.models.messages import SubmitTask, TaskRef


def answer_after(deps: Collaborators, token: str, left: Wait, job: Job, index: int) -> bool:
    """Answers the token of task `index` of `job` (see task_answer.answer), handing it on when the
    task ended and the next link of its chain is ready (a one-step job reads nothing more)."""
    if left is DONE and job.steps and _hand_on(deps, TaskRef(jobId=job.job_id, taskIndex=index), token):
        return True
    return answer(deps, token, left)


def _hand_on(deps: Collaborators, ref: TaskRef, token: str) -> bool:
    job = deps.jobs.get(ref.job_id)  # as the task's end left it
    if job is None:
        return False
    task = deps.tasks.get(ref.job_id, ref.task_index)
    following = continue_chain(deps, job, task) if task else None
    if following is None:
        return False
    deps.submit_queue.send_task(
        SubmitTask(jobId=ref.job_id, taskIndex=following, taskToken=token), job.user_id
    )
    return True
