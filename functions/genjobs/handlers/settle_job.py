"""SettleJob, the generation workflow's last task: a job's open tasks closed, its credits settled
once, its completion published (docs/schemas). Safe to replay."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic.settlement import settle
from genjobs.models.messages import SettleJobInput
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=SettleJobInput)
def handler(event: SettleJobInput, context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event.job_id)
    return settle(deps(), event.job_id).to_wire()
