"""RunQueue consumer: runs one pipeline step that answers at once (a synchronous provider call, or
the app's own Lambda function) and answers its task token (genjobs.logic.running). A body that is
not a RunTask (docs/schemas) fails its record alone, as a batch item failure; a step that fails
five times goes to RunQueue's DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import running
from genjobs.logic.tasks import RetryLater
from genjobs.models.records import RunQueueRecord
from genjobs.observability import bind, logger, metrics, tracer


def _processor() -> BatchProcessor:
    # One per invocation: a BatchProcessor keeps the batch's results on itself (see submitter).
    return BatchProcessor(event_type=EventType.SQS, model=RunQueueRecord)


def run_record(record: RunQueueRecord) -> None:
    message = record.body
    bind(jobId=message.job_id, taskIndex=message.task_index)
    d = deps()
    try:
        running.run(d, message, int(record.attributes.ApproximateReceiveCount))
    except RetryLater as retry:
        # Back later (throttled, or the provider or function unavailable), not at once.
        d.run_queue.retry_later(record.receiptHandle, max(1, round(retry.delay_seconds)))
        raise


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(
        event=event, record_handler=run_record, processor=_processor(), context=context
    )
