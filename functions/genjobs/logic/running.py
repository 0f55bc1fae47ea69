"""The RunQueue's tasks: a pipeline step that answers in one call. A `sync` step calls its provider
and waits for the output (an LLM's text, TTS audio); a `lambda` step invokes the app's own function
with the task's input. Either way the outputs are kept, the task ends once, and its token is
answered (or handed on to the next link of its chain). Throttling and transient errors come back
later through the message's visibility timeout, at most MAX_ATTEMPTS times.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from genjobs.logic import app_functions
from genjobs.logic.chains import answer_after
from genjobs.logic.job_model import model_of
from genjobs.logic.outputs import keep_outputs
from genjobs.logic.ports import Collaborators
from genjobs.logic.providers import provider_for
from genjobs.logic.task_answer import DONE, Wait
from genjobs.logic.task_end import TaskGone, end_task, ended_or_cancelled, load, task_event
from genjobs.logic.tasks import RetryLater, apply_status, completed, rejected, submission_key
from genjobs.models.domain import Job, StepKind, Task, TaskStatus
from genjobs.models.messages import AppFunctionRequest, RunTask, TaskRef
from genjobs.models.persistence import Accepted, AppFunctionFailed, AppFunctionThrottled
from genjobs.providers.base import ProviderError, ProviderRejected, ProviderThrottled, SubmitRequest

MAX_ATTEMPTS = 5
MAX_RESULT_BYTES = 32 * 1024  # what a task item keeps as its result, for the next steps' templates
LONGEST_CALL_SECONDS = 240  # within the runner's 300 s timeout


def run(deps: Collaborators, message: RunTask, receive_count: int) -> None:
    token = message.task_token
    try:
        job, task = load(deps, message)
    except TaskGone:
        deps.workflow.fail(token, "TaskGone", "the task no longer exists")
        return
    if not task.status.terminal and not deps.workflow.heartbeat(token):
        return  # nothing waits on this message any more: running it now would pay for an orphan
    answer_after(deps, token, _run(deps, job, task, receive_count), job, task.index)


def _run(deps: Collaborators, job: Job, task: Task, receive_count: int) -> Wait:
    if ended_or_cancelled(deps, job, task, "job cancelled before it ran"):
        return DONE
    try:
        if job.steps[job.step_of(task.index)].kind == StepKind.LAMBDA:
            return _invoke(deps, job, task)
        return _call(deps, job, task)
    except RetryLater as retry:
        if receive_count >= MAX_ATTEMPTS:
            end_task(
                deps,
                job,
                task,
                TaskStatus.FAILED,
                "task.failed",
                error=f"gave up after {receive_count} attempts: {retry}",
            )
            return DONE
        deps.timeline.add(
            task_event(
                job.job_id, "task.run_retry", task.index, error=str(retry), retryIn=retry.delay_seconds
            )
        )
        raise


def _call(deps: Collaborators, job: Job, task: Task) -> Wait:
    model = model_of(deps, job)
    request = SubmitRequest(
        model=job.model, input=task.input, idempotency_key=submission_key(job.job_id, task)
    )
    deps.tasks.count_submit_attempt(job.job_id, task.index)
    try:
        status = provider_for(deps, job.provider).run(
            request, min(LONGEST_CALL_SECONDS, 3 * model.expected_seconds)
        )
    except ProviderThrottled as error:
        raise RetryLater(error.retry_after_seconds, str(error)) from error
    except ProviderRejected as error:
        return rejected(deps, job, task, error)
    except ProviderError as error:
        raise RetryLater(10.0, str(error)) from error
    event = task_event(job.job_id, "task.submitted", task.index, providerId=status.provider_id, by="sync")
    deps.tasks.mark_submitted(job, task.index, Accepted(status.provider_id, deps.clock.now()), event)
    job, task = load(deps, task_ref(job, task))
    return apply_status(deps, job, task, status, result=text_result(status.outputs))


def _invoke(deps: Collaborators, job: Job, task: Task) -> Wait:
    step = job.steps[job.step_of(task.index)]
    event = task_event(job.job_id, "task.submitted", task.index, function=step.function, by="lambda")
    deps.tasks.mark_submitted(job, task.index, Accepted("lambda", deps.clock.now()), event)
    # The app's contract (docs/schemas/app-function-*.json): jobId + taskIndex identify the call, so
    # a redelivered message's repeat can be recognised by the function.
    request = AppFunctionRequest(jobId=job.job_id, taskIndex=task.index, step=step.name, input=task.input)
    try:
        answered = app_functions.invoke(deps, step.function or "", request)
    except AppFunctionThrottled as error:
        raise RetryLater(30.0, str(error)) from error
    except AppFunctionFailed as error:
        end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=f"function.failed: {error}")
        return DONE
    job, task = load(deps, task_ref(job, task))
    outputs = keep_outputs(deps, job, task.index, list(answered.outputs))
    completed(deps, job, task, outputs, _bounded(answered.result))
    return DONE


def task_ref(job: Job, task: Task) -> TaskRef:
    return TaskRef(jobId=job.job_id, taskIndex=task.index)


def text_result(outputs: list[str]) -> Any:
    """A text model's answer as data for the next steps: its first output when it is an inline text
    (JSON is parsed), else None."""
    if not outputs or not outputs[0].startswith("data:"):
        return None
    media = outputs[0][5:].split(",", 1)[0]
    if not (media.startswith("text/") or media.startswith("application/json")):
        return None
    with urllib.request.urlopen(outputs[0]) as response:
        text = response.read().decode("utf-8", errors="replace")
    try:
        return _bounded(json.loads(text))
    except ValueError:
        return _bounded(text)


def _bounded(value: Any) -> Any:
    if value is None or len(json.dumps(value)) > MAX_RESULT_BYTES:
        return None
    return value
