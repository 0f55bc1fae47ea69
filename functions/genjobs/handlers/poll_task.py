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
def _check(event: PollTaskInput, context: LambdaContext) -> dict[str, Any] | tasks.TaskNotReady:
    bind(jobId=event.job_id, taskIndex=event.task_index)
    try:
        tasks.poll(deps(), event)
    except tasks.TaskNotReady as not_ready:
        return not_ready
    return PollTaskOutput(jobId=event.job_id, taskIndex=event.task_index).to_wire()


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns once the task has ended; raises TaskNotReady while it runs (the Retry of
    CheckCancellationAndStatus)."""
    answer = _check(event, context)
    if isinstance(answer, tasks.TaskNotReady):
        # The polling loop's usual answer, not a fault: raised here, past the decorators and with a
        # fresh traceback, so the runtime's error record holds one frame instead of the whole stack
        # (and no trace records it as an error).
        raise tasks.TaskNotReady(str(answer))
    return answer
