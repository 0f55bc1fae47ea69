"""A job's size does not reach the Step Functions limits: the parent execution's history and its
largest state payload are the same for 5 tasks as for 40 (tasks run as Distributed Map children
with their own histories, read from an S3 manifest rather than passed inline), so a 10,000-task
job stays far from the 25,000-event and 256 KiB caps. `make bench` runs a 10,000-task job itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_job

pytestmark = pytest.mark.e2e

HISTORY_CAP = 25_000
PAYLOAD_CAP = 256 * 1024


def parent_history(stack: LocalStack, job_id: str) -> list[dict[str, Any]]:
    arn = stack.resource("GenerationStateMachine").replace(":stateMachine:", ":execution:") + f":{job_id}"
    return list(stack.client("stepfunctions").get_execution_history(executionArn=arn)["events"])


def largest_payload(events: list[dict[str, Any]]) -> int:
    sizes = [0]
    for event in events:
        for details in event.values():
            if isinstance(details, dict):
                for key in ("input", "output"):
                    if isinstance(details.get(key), str):
                        sizes.append(len(details[key].encode()))
    return max(sizes)


def test_parent_history_and_payloads_do_not_grow_with_the_number_of_tasks(
    stack: LocalStack, make_user: Any
) -> None:
    app: Client = make_user(credits=100)
    # GIVEN a small and a 8x larger job, run to completion
    small = app.create(sim_job(5, latency=0) | {"concurrency": 5})["jobId"]
    large = app.create(sim_job(40, latency=0) | {"concurrency": 20})["jobId"]
    for job_id in (small, large):
        assert app.wait(job_id, timeout=120)["status"] == "COMPLETED"
    # WHEN their parent executions' histories are read
    small_events, large_events = parent_history(stack, small), parent_history(stack, large)
    # THEN they have the same number of events, and the same largest payload, far under the caps
    # (equal but for a Lambda retry, which either job may happen to take)
    assert abs(len(large_events) - len(small_events)) <= 4
    assert max(len(large_events), len(small_events)) < 100
    assert largest_payload(large_events) - largest_payload(small_events) < 64  # only ids differ
    assert largest_payload(large_events) < 4 * 1024 < PAYLOAD_CAP
    # AND the tasks reached the map through the manifest in S3, not the state input
    manifest = stack.client("s3").get_object(
        Bucket=stack.resource("OutputBucket"), Key=f"manifests/{large}.json"
    )
    assert sum(len(batch["tasks"]) for batch in json.loads(manifest["Body"].read())) == 40
