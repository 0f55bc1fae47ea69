"""Task functions of the generation state machine. Each is safe to replay: it re-reads state and
moves it only through conditional transitions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import settlement, tasks
from genjobs.logic.preparation import prepare
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def prepare_job(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event["jobId"])
    return prepare(deps(), event["jobId"])


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def poll_task(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Returns once the task has ended; raises TaskNotReady while it runs (PollTask's Retry)."""
    ref = tasks.TaskRef.model_validate(event)
    bind(jobId=ref.job_id, taskIndex=ref.task_index)
    tasks.poll(deps(), ref)
    return {"jobId": ref.job_id, "taskIndex": ref.task_index, "ended": True}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def fail_task(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ref = tasks.TaskRef.model_validate(event)
    bind(jobId=ref.job_id, taskIndex=ref.task_index)
    tasks.fail(deps(), ref, event.get("error"))
    return {"jobId": ref.job_id, "taskIndex": ref.task_index}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def settle_job(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bind(jobId=event["jobId"])
    return settlement.settle(deps(), event["jobId"])
