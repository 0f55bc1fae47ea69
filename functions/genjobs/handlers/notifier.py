"""NotifyQueue consumer (subscribed to the job events topic): one push per finished job and device."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.batches import each_record
from genjobs.deps import deps
from genjobs.logic.notify import send_job_push
from genjobs.models.records import JobEventRecord
from genjobs.observability import bind, logger, metrics, tracer


def notify_record(record: JobEventRecord) -> None:
    event = record.body  # raw message delivery: the body is the job event itself
    bind(jobId=event.job_id)
    sent = send_job_push(deps(), event)
    metrics.add_metric(name="PushesSent", unit="Count", value=sent)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return each_record(event, context, JobEventRecord, notify_record)
