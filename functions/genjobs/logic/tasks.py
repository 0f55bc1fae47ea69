"""The life of a task: submit (with its cancellation check), wait (poll or webhook), custody. Its end
(the terminal move) is logic.task_end and the answer to its waiting token logic.task_answer.

Every step re-reads the task and the job and moves the task only through conditional
transitions (genjobs.dal.tasks.TaskRepository), so replays, duplicate deliveries and
concurrent webhooks/polls/cancels change nothing twice.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from genjobs.catalog import ResolvedModel, WaitBy
from genjobs.logic import holding
from genjobs.logic.job_model import model_of
from genjobs.logic.outputs import OutputGone, OutputUnavailable, keep_outputs
from genjobs.logic.ports import Collaborators, SubmitQueuePort
from genjobs.logic.providers import provider_for
from genjobs.logic.task_answer import DONE, RUNNING, Wait
from genjobs.logic.task_end import end_task, load, task_event
from genjobs.models.domain import Job, Output, Task, TaskStatus
from genjobs.models.messages import TaskRef
from genjobs.models.persistence import Accepted
from genjobs.observability import logger, metrics
from genjobs.providers.base import (
    CancelOutcome,
    ProviderError,
    ProviderRejected,
    ProviderStatus,
    ProviderThrottled,
    SubmitRequest,
    TaskState,
)


class RetryLater(Exception):
    """The submission must be retried after `delay_seconds` (schedule seconds)."""

    def __init__(self, delay_seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's longest visibility timeout


@contextmanager
def back_later(queue: Callable[[], SubmitQueuePort], receipt_handle: str) -> Iterator[None]:
    """A queue consumer's record that raises RetryLater comes back after its delay, not at once (and
    still fails as a batch item). Jittered so a burst of throttled tasks does not come back at the
    same instant; the delay stays in schedule seconds, as SQS counts a visibility timeout."""
    try:
        yield
    except RetryLater as retry:
        delay = retry.delay_seconds * (1 + random.random() * 0.2)
        queue().retry_later(receipt_handle, max(1, min(MAX_VISIBILITY_SECONDS, round(delay))))
        raise


class TaskNotReady(Exception):
    """A status check found the task still running. CheckCancellationAndStatus's Retry on this error
    name is the polling loop: the next check after the Retry's back-off, one transition per check."""


# ----------------------------------------------------------------------------- submit
def waits_by_webhook(deps: Collaborators, job: Job, model: ResolvedModel) -> bool:
    """Whether the job's tasks wait for a provider webhook (else they are polled)."""
    return model.wait_by == WaitBy.WEBHOOK and provider_for(deps, job.provider).supports_webhooks


def webhook_url(deps: Collaborators, job: Job, index: int) -> str:
    return (
        f"{deps.settings.public_base_url.rstrip('/')}/webhooks/{job.provider}?job={job.job_id}&task={index}"
    )


def submission_key(job_id: str, task: Task) -> str:
    """The provider's idempotency key of a task's attempt: a redelivery gets the same prediction,
    a retry a new one (the same key would answer the failed prediction again)."""
    key = f"{job_id}:{task.index}"
    return key if task.attempt == 1 else f"{key}:a{task.attempt}"


def submit_task(deps: Collaborators, job: Job, task: Task, token: str, receive_count: int) -> Wait | None:
    """What is left to wait for, or None when a webhook answers the token (or nothing waits on it)."""
    ref = TaskRef(jobId=job.job_id, taskIndex=task.index)
    if task.status.terminal:
        return DONE
    if job.cancel_requested and task.status == TaskStatus.PENDING:
        end_task(
            deps, job, task, TaskStatus.CANCELLED, "task.cancelled", reason="job cancelled before submission"
        )
        return DONE
    model = model_of(deps, job)
    by_webhook = waits_by_webhook(deps, job, model)
    if not deps.workflow.heartbeat(token):
        # Nothing waits on this message any more (its wait timed out: the state machine failed the
        # task or sent it again with a new token). Submitting now would pay for an orphan.
        logger.warning("submission dropped: its task token no longer waits", extra={"jobId": job.job_id})
        return None
    if task.status == TaskStatus.PROCESSING and task.provider_id:
        # Already submitted (a redelivery after the record was written, or the state machine's
        # retry of a wait that timed out in the queue): answer again; a webhook answers this token.
        if by_webhook:
            deps.tasks.attach_token(job.job_id, task.index, token)
            return None
        return RUNNING

    provider = provider_for(deps, job.provider)
    request = SubmitRequest(
        model=job.model,
        input=task.input,
        idempotency_key=submission_key(job.job_id, task),
        webhook_url=webhook_url(deps, job, task.index) if by_webhook else None,
    )
    try:
        submission = provider.submit(request)
    except ProviderThrottled as error:
        deps.tasks.count_submit_attempt(job.job_id, task.index)
        deps.timeline.add(
            task_event(job.job_id, "task.throttled", task.index, retryAfter=error.retry_after_seconds)
        )
        metrics.add_metric(name="ProviderThrottles", unit="Count", value=1)
        holding.block_pool(deps, job, task, error.retry_after_seconds)
        raise RetryLater(error.retry_after_seconds, str(error)) from error
    except ProviderRejected as error:
        return rejected(deps, job, task, error)
    except ProviderError as error:
        deps.tasks.count_submit_attempt(job.job_id, task.index)
        delay = min(900.0, 5.0 * 2 ** max(0, receive_count - 1))
        deps.timeline.add(
            task_event(job.job_id, "task.submit_retry", task.index, error=str(error), retryIn=delay)
        )
        raise RetryLater(delay, str(error)) from error
    # A crash here leaves a prediction we have not recorded: the redelivered message submits again
    # with the same idempotency key and gets the same prediction back.
    deps.checkpoints.reach("submit.after_provider_accepted", job.user_id, job.job_id)

    now = deps.clock.now()
    due = None
    if by_webhook:
        due = now + deps.clock.duration(model.expected_seconds + deps.settings.webhook_grace_seconds)
    accepted = Accepted(submission.provider_id, now, token if by_webhook else None, due)
    event = task_event(
        job.job_id, "task.submitted", task.index, providerId=submission.provider_id, by=model.wait_by
    )
    # A failed attempt is counted when it fails; the accepted one with the task's move.
    moved = deps.tasks.mark_submitted(job, task.index, accepted, event, attempts=task.submit_attempts + 1)
    if not moved:
        _, task = load(deps, ref)
        return DONE if task.status.terminal else None
    if submission.status is not None and submission.status.state.is_terminal:
        job, task = load(deps, ref)
        return apply_status(deps, job, task, submission.status)
    return None if by_webhook else RUNNING


# ----------------------------------------------------------------------------- wait
# Reasons a task fails that a client can match on (the text after the colon explains it).
NO_OUTPUT = "provider.no_output"
OUTPUT_GONE = "provider.output_gone"
TOO_MANY_ERRORS = "provider.too_many_errors"


def _output_optional(deps: Collaborators, job: Job) -> bool:
    model = deps.catalog.resolve(job.provider, job.model)
    return model is not None and model.output_optional


def apply_status(
    deps: Collaborators,
    job: Job,
    task: Task,
    status: ProviderStatus,
    result: Any = None,
    delivery_id: str | None = None,
) -> Wait:
    """Acts on one observation of the provider (a poll, a webhook with its `delivery_id`, the
    sweeper, a sync call's answer with what it returned as data: `result`)."""
    if task.status.terminal:
        return DONE
    by = {"endedBy": delivery_id} if delivery_id else {}
    if status.state == TaskState.SUCCEEDED:
        outputs = keep_outputs(deps, job, task.index, status.outputs)
        if not outputs and not _output_optional(deps, job):
            # Nothing delivered is not a success: not charged.
            return _failed(
                deps, job, task, f"{NO_OUTPUT}: the provider reported success but delivered no output", **by
            )
        deps.timeline.add(task_event(job.job_id, "task.outputs_stored", task.index, count=len(outputs)))
        deps.checkpoints.reach("outputs.after_stored", job.user_id, job.job_id)
        return completed(deps, job, task, outputs, result, **by)
    if status.state == TaskState.FAILED:
        error = status.error or status.raw_status
        end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=error, **by)
        return DONE
    if status.state == TaskState.CANCELED:
        reason = "cancelled at the provider"
        end_task(deps, job, task, TaskStatus.CANCELLED, "task.cancelled", reason=reason, **by)
        return DONE
    deps.tasks.record_running(
        task,
        # a provider may report a lower figure than before (a restarted step); progress never goes back
        max(status.progress, task.progress or 0.0) if status.progress is not None else None,
    )
    return RUNNING


def cancel_at_provider(deps: Collaborators, job: Job, task: Task, by: str) -> CancelOutcome | None:
    """Asks the provider to stop a task of a cancelled job, once (`by`: who sent it, for the timeline)."""
    if not job.cancel_requested or task.provider_cancelled_at is not None or not task.provider_id:
        return None
    if not deps.tasks.claim_provider_cancel(job.job_id, task.index):
        return None
    try:
        outcome = provider_for(deps, job.provider).cancel(task.provider_id)
    except ProviderError:
        deps.tasks.release_provider_cancel(job.job_id, task.index)
        raise
    deps.timeline.add(task_event(job.job_id, "task.cancel_sent", task.index, outcome=outcome.value, by=by))
    return outcome


def poll(deps: Collaborators, ref: TaskRef) -> None:
    """One wake-up of a polling task: cancellation check, deadline, one status read. Returns when the
    task has ended; raises TaskNotReady while it runs (the state machine checks again later)."""
    if _check(deps, ref) is not DONE:
        raise TaskNotReady(f"job {ref.job_id} task {ref.task_index} is still running")


def _check(deps: Collaborators, ref: TaskRef) -> Wait:
    job, task = load(deps, ref)
    if task.status.terminal:
        return DONE
    assert task.provider_id is not None
    deadline = deps.settings.task_deadline_seconds
    if task.submitted_at is not None and deps.clock.seconds_since(task.submitted_at) > deadline:
        return _failed(
            deps, job, task, f"no result within the {deps.settings.task_deadline_seconds} s deadline"
        )
    try:
        if cancel_at_provider(deps, job, task, by="poll") in {
            CancelOutcome.CANCELED,
            CancelOutcome.NOT_FOUND,
        }:
            end_task(
                deps, job, task, TaskStatus.CANCELLED, "task.cancelled", reason="cancelled at the provider"
            )
            return DONE
        status = provider_for(deps, job.provider).status(task.provider_id)
        return apply_status(deps, job, task, status)
    except ProviderError as error:
        return observation_failed(deps, job, task, error)


def completed(
    deps: Collaborators, job: Job, task: Task, outputs: list[Output], result: Any = None, **more: Any
) -> Wait:
    """The task ends COMPLETED with its kept outputs (and what it returned as data, and `more`
    fields of the task), charged once."""
    kept = [o.model_dump(mode="json", by_alias=True) for o in outputs]
    fields: dict[str, Any] = {"outputs": kept, "progress": 100.0, **more}
    if result is not None:
        fields["result"] = result
    end_task(deps, job, task, TaskStatus.COMPLETED, "task.completed", **fields)
    return DONE


def rejected(deps: Collaborators, job: Job, task: Task, error: ProviderRejected) -> Wait:
    """The provider refused the task for good: it fails, refunded, and is not tried again."""
    return _failed(deps, job, task, f"provider rejected the task: {error}")


def _failed(deps: Collaborators, job: Job, task: Task, error: str, **more: Any) -> Wait:
    end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=error, **more)
    return DONE


def observation_failed(deps: Collaborators, job: Job, task: Task, error: ProviderError) -> Wait:
    """A poll, webhook or sweep of a task could not be applied (its status could not be read or its
    output not copied). Counted: the task ends FAILED and refunded once the consecutive failures
    reach the configured bound, at once when its output is gone for good, and CANCELLED at once
    when the job was cancelled and an output could not be kept. DONE when the task has ended."""
    logger.warning("poll failed", extra={"jobId": job.job_id, "taskIndex": task.index, "error": str(error)})
    if job.cancel_requested and isinstance(error, OutputGone | OutputUnavailable):
        # The user asked to stop: a result we cannot keep now is not worth holding the job open for.
        end_task(
            deps,
            job,
            task,
            TaskStatus.CANCELLED,
            "task.cancelled",
            reason=f"job cancelled; the provider's output could not be kept: {error}",
        )
        return DONE
    if isinstance(error, OutputGone):
        return _failed(deps, job, task, f"{OUTPUT_GONE}: {error}")
    errors = task.poll_errors + 1
    limit = deps.settings.max_consecutive_poll_errors
    if errors >= limit:
        return _failed(deps, job, task, f"{TOO_MANY_ERRORS}: {errors} consecutive poll errors; last: {error}")
    deps.tasks.record_poll_error(job.job_id, task.index)
    deps.timeline.add(
        task_event(job.job_id, "task.poll_error", task.index, error=str(error), consecutive=errors)
    )
    return RUNNING
