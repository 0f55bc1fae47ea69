"""SubmitQueue consumer: submits tasks to their provider, and sends the provider cancels of a job
cancelled by its user. Throttling and transient errors are retried by the message's visibility
timeout (no task fails, no state transition is spent); the DLQ consumer (submit_dead_letter) fails
a poison submission's task and releases its credits. A body that is neither message kind
(docs/schemas) fails its record alone, as a batch item failure."""

from __future__ import annotations

import random
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import submission, sweeper, tasks
from genjobs.models.messages import CancelJob
from genjobs.models.records import SubmitQueueRecord
from genjobs.observability import bind, logger, metrics, tracer

MAX_VISIBILITY_SECONDS = 12 * 3600


def _processor() -> BatchProcessor:
    # One per invocation: a BatchProcessor keeps the batch's results on itself, so a module-level
    # one mixes up batches handled concurrently in one process (the local runtime runs a poller's
    # batches in threads; a shared processor answered one batch with another's failures and the
    # poller deleted throttled messages, stranding their tasks).
    return BatchProcessor(event_type=EventType.SQS, model=SubmitQueueRecord)


def submit_record(record: SubmitQueueRecord) -> None:
    message = record.body
    if isinstance(message, CancelJob):
        bind(jobId=message.cancel_job)
        sent = sweeper.cancel_in_flight(deps(), message.cancel_job, by="cancel request")
        logger.info("provider cancels sent", extra={"cancelsSent": sent})
        return
    bind(jobId=message.job_id, taskIndex=message.task_index)
    receive_count = int(record.attributes.ApproximateReceiveCount)
    d = deps()
    try:
        submission.submit(d, message, receive_count)
    except tasks.RetryLater as retry:
        # Jitter so a burst of throttled tasks does not come back at the same instant. The delay
        # stays in schedule seconds, as SQS counts a visibility timeout (not through deps.clock).
        delay = retry.delay_seconds * (1 + random.random() * 0.2)
        d.submit_queue.retry_later(record.receiptHandle, max(1, min(MAX_VISIBILITY_SECONDS, round(delay))))
        raise


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(
        event=event, record_handler=submit_record, processor=_processor(), context=context
    )
