"""SubmitQueue consumer: submits tasks to their provider, and sends the provider cancels of a job
cancelled by its user. Throttling and transient errors are retried by the message's visibility
timeout (no task fails, no state transition is spent); the DLQ consumer fails a poison submission's
task and releases its credits."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.dal import aws
from genjobs.deps import deps
from genjobs.logic import sweeper, tasks
from genjobs.observability import bind, logger, metrics, tracer

MAX_VISIBILITY_SECONDS = 12 * 3600


def _processor() -> BatchProcessor:
    # One per invocation: a BatchProcessor keeps the batch's results on itself, so a module-level
    # one mixes up batches handled concurrently in one process (the local runtime runs a poller's
    # batches in threads; a shared processor answered one batch with another's failures and the
    # poller deleted throttled messages, stranding their tasks).
    return BatchProcessor(event_type=EventType.SQS)


def submit_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    if "cancelJob" in message:
        bind(jobId=message["cancelJob"])
        sent = sweeper.cancel_in_flight(deps(), message["cancelJob"], by="cancel request")
        logger.info("provider cancels sent", extra={"cancelsSent": sent})
        return
    ref = tasks.TaskRef.model_validate(message)
    bind(jobId=ref.job_id, taskIndex=ref.task_index)
    token = message["taskToken"]
    receive_count = int(record.attributes.approximate_receive_count)
    d = deps()
    try:
        answer = tasks.submit(d, ref, token, receive_count)
    except tasks.TaskGone:
        d.workflow.fail(token, "TaskGone", "the task no longer exists")
        return
    except tasks.RetryLater as retry:
        # Jitter so a burst of throttled tasks does not come back at the same instant. The delay
        # stays in schedule seconds, as SQS counts a visibility timeout (not through deps.clock).
        delay = retry.delay_seconds * (1 + random.random() * 0.2)
        aws.client("sqs").change_message_visibility(
            # This function consumes SubmitQueue only: its URL is configured, no GetQueueUrl call needed.
            QueueUrl=d.settings.submit_queue_url,
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=max(1, min(MAX_VISIBILITY_SECONDS, round(delay))),
        )
        raise
    if answer is not None:
        d.workflow.succeed(token, answer.model_dump())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(
        event=event, record_handler=submit_record, processor=_processor(), context=context
    )


def dead_letter_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    if "cancelJob" in message:
        # Nothing waits on it: the sweeper's passes keep sending the job's provider cancels.
        logger.warning("provider cancels left to the sweeper", extra={"jobId": message["cancelJob"]})
        return
    ref = tasks.TaskRef.model_validate(message)
    bind(jobId=ref.job_id, taskIndex=ref.task_index)
    d = deps()
    with contextlib.suppress(tasks.TaskGone):
        tasks.give_up_submission(d, ref, "the submission kept failing and was moved to the dead-letter queue")
    d.workflow.succeed(message["taskToken"], tasks.DONE.model_dump())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def dead_letter_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(
        event=event, record_handler=dead_letter_record, processor=_processor(), context=context
    )
