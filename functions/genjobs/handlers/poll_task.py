"""CheckCancellationAndStatus's task: one check of a polled task at its provider (docs/schemas).
Safe to replay: it re-reads the task and moves it only through conditional transitions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import tasks
from genjobs.models.messages import PollTaskInput, PollTaskOutput
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PollTaskInput)
def handler(event: PollTaskInput, context: LambdaContext) -> dict[str, Any]:
    """Returns once the task has ended; raises TaskNotReady while it runs (the Retry of
    CheckCancellationAndStatus)."""
    bind(jobId=event.job_id, taskIndex=event.task_index)
    tasks.poll(deps(), event)
    return PollTaskOutput(jobId=event.job_id, taskIndex=event.task_index).to_wire()
