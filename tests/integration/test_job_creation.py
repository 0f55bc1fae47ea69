"""Job creation is O(1) in the number of tasks: the plan is stored, not expanded."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from genjobs.deps import Deps
from genjobs.logic import jobs, preparation
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import TaskStatus


def item_count(deps: Deps) -> int:
    return int(boto3.client("dynamodb").scan(TableName=deps.settings.table_name, Select="COUNT")["Count"])


def test_a_10000_task_job_writes_as_few_items_as_a_1_task_job(deps: Deps) -> None:
    # GIVEN a user with enough credits for both jobs
    deps.credits.grant("big", 20_000, "g1", None)
    base = item_count(deps)
    # WHEN a 1-task job and then a 10,000-task job are created
    small = CreateJobRequest(provider="simulator", model="sim-image", matrix={"style": ["A"]})
    jobs.create_job(deps, "big", small, None)
    after_small = item_count(deps)
    big = CreateJobRequest(
        provider="simulator", model="sim-image", matrix={"style": ["A", "B"]}, count=10_000
    )
    view = jobs.create_job(deps, "big", big, None)
    after_big = item_count(deps)
    # THEN both wrote the same number of items (job, ledger entry, timeline event), and the plan is exact
    assert after_big - after_small == after_small - base
    assert view.plan.task_count == 10_000
    assert deps.credits.account("big").reserved == 10_001


def job_item_bytes(deps: Deps, job_id: str) -> int:
    item = boto3.client("dynamodb").get_item(
        TableName=deps.settings.table_name,
        Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
    )
    return len(json.dumps(item["Item"]))


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param({"matrix": {"seed": list(range(10_000))}}, id="10,000-value matrix"),
        pytest.param({"matrix": {"seed": [1, 2]}, "input": {"prompt": "x" * 20_000}}, id="20 KB prompt"),
    ],
)
def test_a_big_plan_or_input_stays_out_of_the_job_item_and_still_runs_exactly(
    deps: Deps, request_body: dict[str, Any]
) -> None:
    # GIVEN a job whose plan or common input is large
    deps.credits.grant("big", 20_000, "g1", None)
    request = CreateJobRequest.model_validate({"provider": "simulator", "model": "sim-image"} | request_body)
    # WHEN it is created
    view = jobs.create_job(deps, "big", request, None)
    # THEN the job item, which every task step reads and rewrites, stays small (DynamoDB charges those
    # by its whole size), and the plan and input are kept in S3 for PrepareJob
    assert job_item_bytes(deps, view.job_id) < 2048
    # AND PrepareJob expands the same tasks, each with the common input
    preparation.prepare(deps, view.job_id)
    tasks = list(deps.tasks.in_status(view.job_id, TaskStatus.PENDING))
    expected = len(request_body["matrix"]["seed"])
    assert sorted(t.index for t in tasks) == list(range(expected))
    last = next(t for t in tasks if t.index == expected - 1)
    assert last.input == request.input | {"seed": request_body["matrix"]["seed"][-1]}


def test_a_small_plan_stays_in_the_job_item(deps: Deps) -> None:
    # GIVEN / WHEN a small job is created
    deps.credits.grant("small", 10, "g1", None)
    request = CreateJobRequest(provider="simulator", model="sim-image", matrix={"style": ["A", "B"]})
    view = jobs.create_job(deps, "small", request, None)
    # THEN nothing was written to S3 for it (no extra request on the common path)
    listed = boto3.client("s3").list_objects_v2(Bucket=deps.settings.output_bucket)
    assert listed.get("KeyCount", 0) == 0
    preparation.prepare(deps, view.job_id)
    assert len(list(deps.tasks.in_status(view.job_id, TaskStatus.PENDING))) == 2
