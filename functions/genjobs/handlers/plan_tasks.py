"""PlanTasks, between two rounds of the workflow's Map: a pipeline's next ready tasks (their inputs
rendered from what ended) or done (docs/schemas). Safe to replay: a task is claimed once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic.preparation import plan_next
from genjobs.models.messages import PlanTasksInput
from genjobs.observability import bind, logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=PlanTasksInput)
def handler(event: PlanTasksInput, context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event.job_id)
    return plan_next(deps(), event).to_wire()
