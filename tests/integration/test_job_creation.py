"""Job creation is O(1) in the number of tasks: the plan is stored, not expanded."""

from __future__ import annotations

import boto3

from genjobs.deps import Deps
from genjobs.logic import jobs
from genjobs.models.api import CreateJobRequest


def item_count(deps: Deps) -> int:
    return int(boto3.client("dynamodb").scan(TableName=deps.settings.table_name, Select="COUNT")["Count"])


def test_a_10000_task_job_writes_as_few_items_as_a_1_task_job(deps: Deps) -> None:
    # GIVEN a user with enough credits for both jobs
    deps.table.grant("big", 20_000, "g1", None)
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
    assert deps.table.get_account("big").reserved == 10_001
