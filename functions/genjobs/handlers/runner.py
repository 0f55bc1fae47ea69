"""RunQueue consumer: runs one pipeline step that answers at once (a synchronous provider call, or
the app's own Lambda function) and answers its task token (genjobs.logic.running). A body that is
not a RunTask (docs/schemas) fails its record alone, as a batch item failure; a step that fails
five times goes to RunQueue's DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.batches import each_record
from genjobs.deps import deps
from genjobs.logic import running
from genjobs.logic.tasks import back_later
from genjobs.models.records import RunQueueRecord
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return each_record(event, context, RunQueueRecord, run_record)


def run_record(record: RunQueueRecord) -> None:
    """One step; a RetryLater (throttled, or the provider or function unavailable) brings it back later."""
    bind(jobId=record.body.job_id, taskIndex=record.body.task_index)
    d = deps()
    with back_later(lambda: d.run_queue, record.receiptHandle):
        running.run(d, record.body, int(record.attributes.ApproximateReceiveCount))
