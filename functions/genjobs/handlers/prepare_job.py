"""PrepareJob, the generation workflow's first task: a job's tasks and manifest, and the waits its
tasks run with (docs/schemas). Safe to replay; reads the catalog and talks to no provider."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic.preparation import prepare
from genjobs.models.messages import PrepareJobInput
from genjobs.observability import bind, logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=PrepareJobInput)
def handler(event: PrepareJobInput, context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event.job_id)
    return prepare(deps(), event.job_id).to_wire()
