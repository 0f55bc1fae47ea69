"""FailTask: a task whose child workflow caught an error ends FAILED and refunded, unless it already
ended (docs/schemas). Safe to replay."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import task_end
from genjobs.models.messages import FailTaskInput, FailTaskOutput
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FailTaskInput)
def handler(event: FailTaskInput, context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event.job_id, taskIndex=event.task_index)
    task_end.fail(deps(), event)
    return FailTaskOutput(jobId=event.job_id, taskIndex=event.task_index).to_wire()
