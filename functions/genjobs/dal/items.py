"""Conversions between pydantic models and DynamoDB items, and the table's key layout."""

from __future__ import annotations

from decimal import Context, Decimal, Inexact
from typing import Any

from genjobs.models.domain import Job, JobCredits, StepState, Task, TaskCounts, TaskStatus


def job_key(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": "JOB"}


def task_key(job_id: str, index: int) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": f"TASK#{index:06d}"}


def account_key(user_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": "CREDITS"}


def ledger_key(user_id: str, entry_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": f"LEDGER#{entry_id}"}


def device_key(user_id: str, device_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": f"DEVICE#{device_id}"}


def endpoint_owner_key(endpoint_arn: str) -> dict[str, str]:
    """The device that currently holds a push endpoint (SNS keeps one endpoint per token)."""
    return {"pk": f"ENDPOINT#{endpoint_arn}", "sk": "OWNER"}


_EXACT = Context(prec=38, traps=[Inexact])  # normalizes, never rounds

COUNT_ATTR = {status: f"count{status.value.capitalize()}" for status in TaskStatus}


def step_attr(step: int, what: str) -> str:
    """A pipeline step's counter on the job item: `what` is a status (its count), `Charged`,
    `Refunded` or `Size` (flat attributes, so a transition ADDs to them without a map to create)."""
    return f"step{step}{what.capitalize()}"


def step_count_attr(step: int, status: TaskStatus) -> str:
    return step_attr(step, status.value)


SWEEP_JOBS = "SWEEP#JOB"
SWEEP_TASKS = "SWEEP#TASK"
SWEEP_CANCELS = "SWEEP#CANCEL"


def to_dynamo(value: Any) -> Any:
    """Python JSON-like value -> DynamoDB value (floats become Decimals, None values are dropped)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**38:
        # boto3 refuses to round, and would have to for the trailing zeros of a big integer such as
        # 10**50, which DynamoDB stores exactly as 1E+50 (the API refuses more significant digits).
        return Decimal(value).normalize(_EXACT)
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    """DynamoDB value -> plain JSON-like Python (Decimals become int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [from_dynamo(v) for v in value]
    return value


def job_to_item(job: Job) -> dict[str, Any]:
    data = job.model_dump(
        mode="json", by_alias=True, exclude={"counts", "credits", "step_states"}, exclude_none=True
    )
    if not job.steps:
        data.pop("steps", None)
    if not job.retries:  # the job item is rewritten by every transition: only what it needs
        data.pop("retries", None)
    for number, state in enumerate(job.step_states):
        for status in TaskStatus:
            if state.counts.get(status):
                data[step_count_attr(number, status)] = state.counts.get(status)
        data[step_attr(number, "charged")] = state.charged
        data[step_attr(number, "refunded")] = state.refunded
        if state.size is not None:
            data[step_attr(number, "size")] = state.size
    for status in TaskStatus:
        data[COUNT_ATTR[status]] = job.counts.get(status)
    data["unitPrice"] = job.credits.unit_price
    data["creditsReserved"] = job.credits.reserved
    data["creditsCharged"] = job.credits.charged
    data["creditsRefunded"] = job.credits.refunded
    item = to_dynamo(data)
    item.update(job_key(job.job_id))
    item["gsi1pk"] = f"USER#{job.user_id}"
    item["gsi1sk"] = f"{data['createdAt']}#{job.job_id}"
    return item


def job_from_item(item: dict[str, Any]) -> Job:
    data = from_dynamo(item)
    data["counts"] = TaskCounts(
        **{status.value.lower(): data.get(COUNT_ATTR[status], 0) for status in TaskStatus}
    )
    data["credits"] = JobCredits(
        unitPrice=data.get("unitPrice", 1),
        reserved=data.get("creditsReserved", 0),
        charged=data.get("creditsCharged", 0),
        refunded=data.get("creditsRefunded", 0),
    )
    data["stepStates"] = [
        StepState(
            counts=TaskCounts(**{s.value.lower(): data.get(step_count_attr(n, s), 0) for s in TaskStatus}),
            charged=data.get(step_attr(n, "charged"), 0),
            refunded=data.get(step_attr(n, "refunded"), 0),
            size=data.get(step_attr(n, "size")),
            retried=data.get(step_attr(n, "retried"), 0),
        )
        for n in range(len(data.get("steps", [])))
    ]
    return Job.model_validate(data)


def task_to_item(task: Task) -> dict[str, Any]:
    data = task.model_dump(mode="json", by_alias=True, exclude_none=True)
    if task.attempt == 1 and not task.attempts:  # a first attempt is written as tasks always were
        del data["attempt"], data["attempts"]
    item = to_dynamo(data)
    item.update(task_key(task.job_id, task.index))
    return item


def task_from_item(item: dict[str, Any]) -> Task:
    return Task.model_validate(from_dynamo(item))
