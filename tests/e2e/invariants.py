"""What must hold once every end-to-end test has run, whatever the tests did to the stack: every job
ended in bounded time, each job's reservation is exactly charged plus refunded, and every account
balances (granted = available + reserved + charged) with nothing left reserved."""

from __future__ import annotations

import time
from typing import Any

from genjobs_local.stack import LocalStack

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def scan_jobs_table(stack: LocalStack, **scan: Any) -> list[dict[str, Any]]:
    """Every item of the jobs table that the scan's arguments keep, read consistently, page by page."""
    dynamodb = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": stack.resource("JobsTable"), "ConsistentRead": True, **scan}
    while True:
        page = dynamodb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _scan(stack: LocalStack, sk: str) -> list[dict[str, Any]]:
    return scan_jobs_table(stack, FilterExpression="sk = :sk", ExpressionAttributeValues={":sk": {"S": sk}})


def _number(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, {"N": "0"})["N"])


def unfinished_jobs(stack: LocalStack) -> list[str]:
    return [
        f"{item['pk']['S']} {item['status']['S']}"
        for item in _scan(stack, "JOB")
        if item["status"]["S"] not in TERMINAL
    ]


def assert_everything_settled(stack: LocalStack, bound_seconds: float) -> None:
    deadline = time.monotonic() + bound_seconds
    while unfinished_jobs(stack) and time.monotonic() < deadline:
        stack.run_schedules_now()  # the sweeper's passes are part of how waits end
        time.sleep(0.5)
    stuck = unfinished_jobs(stack)
    assert stuck == [], f"jobs not ended {bound_seconds:.0f} s after the last test: {stuck}"
    unbalanced_jobs = [
        item["pk"]["S"]
        for item in _scan(stack, "JOB")
        if _number(item, "creditsReserved")
        != _number(item, "creditsCharged") + _number(item, "creditsRefunded")
    ]
    assert unbalanced_jobs == [], f"reserved != charged + refunded: {unbalanced_jobs}"
    accounts = {item["pk"]["S"]: item for item in _scan(stack, "CREDITS")}
    unbalanced = {
        user: {k: _number(item, k) for k in ("granted", "available", "reserved", "charged")}
        for user, item in accounts.items()
        if _number(item, "granted")
        != _number(item, "available") + _number(item, "reserved") + _number(item, "charged")
        or _number(item, "reserved") != 0
    }
    assert unbalanced == {}, f"accounts out of balance or still reserving: {unbalanced}"
