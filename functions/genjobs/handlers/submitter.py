"""SubmitQueue consumer: submits tasks to their provider, and sends the provider cancels of a job
cancelled by its user. Throttling and transient errors are retried by the message's visibility
timeout (no task fails, no state transition is spent); the DLQ consumer (submit_dead_letter) fails
a poison submission's task and releases its credits. A body that is neither message kind
(docs/schemas) fails its record alone, as a batch item failure."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.batches import each_record
from genjobs.deps import deps
from genjobs.logic import submission, sweeper, tasks
from genjobs.models.messages import CancelJob
from genjobs.models.records import SubmitQueueRecord
from genjobs.observability import bind, logger, metrics, tracer


def submit_record(record: SubmitQueueRecord) -> None:
    message = record.body
    if isinstance(message, CancelJob):
        bind(jobId=message.cancel_job)
        sent = sweeper.cancel_in_flight(deps(), message.cancel_job, by="cancel request")
        logger.info("provider cancels sent", extra={"cancelsSent": sent})
        return
    bind(jobId=message.job_id, taskIndex=message.task_index)
    d = deps()
    with tasks.back_later(lambda: d.submit_queue, record.receiptHandle):
        submission.submit(d, message, int(record.attributes.ApproximateReceiveCount))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return each_record(event, context, SubmitQueueRecord, submit_record)
