"""Task functions of the generation state machine. Each is safe to replay: it re-reads state and
moves it only through conditional transitions. Each parses its state's input into its model and
answers its output model (docs/schemas)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import settlement, tasks
from genjobs.logic.preparation import prepare
from genjobs.models.messages import (
    FailTaskInput,
    FailTaskOutput,
    PollTaskInput,
    PollTaskOutput,
    PrepareJobInput,
    SettleJobInput,
)
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=PrepareJobInput)
def prepare_job(event: PrepareJobInput, context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event.job_id)
    return prepare(deps(), event.job_id).to_wire()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=PollTaskInput)
def poll_task(event: PollTaskInput, context: LambdaContext) -> dict[str, Any]:
    """Returns once the task has ended; raises TaskNotReady while it runs (the Retry of
    CheckCancellationAndStatus)."""
    bind(jobId=event.job_id, taskIndex=event.task_index)
    tasks.poll(deps(), event)
    return PollTaskOutput(jobId=event.job_id, taskIndex=event.task_index).to_wire()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FailTaskInput)
def fail_task(event: FailTaskInput, context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event.job_id, taskIndex=event.task_index)
    tasks.fail(deps(), event)
    return FailTaskOutput(jobId=event.job_id, taskIndex=event.task_index).to_wire()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=SettleJobInput)
def settle_job(event: SettleJobInput, context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event.job_id)
    return settlement.settle(deps(), event.job_id).to_wire()
