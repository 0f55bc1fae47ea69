"""statemachine/generation.asl.json, as provisioned from the template, runs end to end on the local stack.

The functions are small fakes; the ASL, the queue, the poller and the callbacks are the real ones:
Distributed Map with ItemReader from S3 (an empty manifest for a job cancelled before its tasks ran),
ItemSelector, MaxConcurrencyPath, ResultWriter, the inline Map over each batch's tasks, `sqs:sendMessage.waitForTaskToken` answered by the submitter through SendTaskSuccess or
SendTaskFailure (PollProvider caught to wait for the provider, any other error to the fail state), and
the polling loop as the Retry of CheckCancellationAndStatus on TaskNotReady.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from tests.local.conftest import Overlap

from genjobs.logic.batching import batches
from genjobs_local import LocalStack

TASKS = 6
FAILING = 3  # the submitter fails this task's token
ENDED = {1, 5}  # the submitter answers success: nothing left to wait for
NOT_READY_CHECKS = 2  # a polled task is seen running twice before it ends
CONCURRENCY = 2


class TaskNotReady(Exception):
    """The error name the check's Retry matches (the class name is the Lambda error type)."""


def run(stack: LocalStack, fake: Any, wait_by: str, cancelled: bool = False) -> dict[str, Any]:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    s3, bucket = stack.client("s3"), stack.resource("OutputBucket")
    sfn = stack.client("stepfunctions")
    overlap, lock = Overlap(), threading.Lock()
    checks: Counter[int] = Counter()

    def prepare(event: Any, context: Any) -> dict[str, Any]:
        manifest = [
            {
                "jobId": event["jobId"],
                "width": width,
                "tasks": [{"taskIndex": i, "firstCheckSeconds": 1} for i in batch],
            }
            for width, batch in batches(list(range(TASKS)), CONCURRENCY, cap=50)
        ]
        if cancelled:
            manifest = []
        key = f"manifests/{event['jobId']}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
        return {
            "jobId": event["jobId"],
            "manifestKey": key,
            "concurrency": CONCURRENCY,
            "taskCount": TASKS,
            "cancelRequested": cancelled,
            "moreRounds": False,
            "firstCheckSeconds": 1,
            "heartbeatSeconds": 3600,
            "deadlineSeconds": 7200,
            "messageGroup": "user-1",
        }

    def submit(event: Any, context: Any) -> None:
        for record in event["Records"]:
            message = json.loads(record["body"])
            index, token = message["taskIndex"], message["taskToken"]
            with overlap:
                time.sleep(0.05)
            if index == FAILING:
                sfn.send_task_failure(taskToken=token, error="ValueError", cause="unknown model")
            elif index in ENDED or wait_by == "WEBHOOK":
                # ended, or (for the webhook job) completed by its webhook
                sfn.send_task_success(taskToken=token, output=json.dumps({"ended": True}))
            else:
                sfn.send_task_failure(taskToken=token, error="PollProvider", cause="check it later")

    def poll(event: Any, context: Any) -> dict[str, Any]:
        index = event["taskIndex"]
        with lock:
            checks[index] += 1
            seen = checks[index]
        if index not in ENDED and seen <= NOT_READY_CHECKS:
            raise TaskNotReady("still running")
        return event | {"ended": True}

    fake("PrepareJobFunction", prepare)
    plan = fake("PlanTasksFunction")
    submitter = fake("SubmitterFunction", submit)
    fake("PollTaskFunction", poll)
    fail = fake("FailTaskFunction")
    fake("SettleJobFunction", lambda event, context: {"jobId": event["jobId"], "status": "SETTLED"})

    execution = sfn.start_execution(
        stateMachineArn=stack.resource("GenerationStateMachine"),
        name=job_id,
        input=json.dumps({"jobId": job_id}),
    )["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.05)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    return {
        "job_id": job_id,
        "described": described,
        "entered": [
            e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
        ],
        "submitted": sorted(
            json.loads(r["body"])["taskIndex"] for c in submitter.calls for r in c["Records"]
        ),
        "messages": [json.loads(r["body"]) for c in submitter.calls for r in c["Records"]],
        "checks": dict(checks),
        "failed": [(c["taskIndex"], c["error"]["Error"]) for c in fail.calls],
        "peak": overlap.peak,
        "planned": plan.calls,
        "written": s3.list_objects_v2(Bucket=bucket, Prefix="mapruns/").get("Contents", []),
    }


@pytest.mark.parametrize("wait_by", ["POLL", "WEBHOOK"])
def test_generation_workflow_runs_every_task_through_the_real_asl(
    stack: LocalStack, fake: Any, wait_by: str
) -> None:
    # WHEN a job's execution runs around fake task functions
    result = run(stack, fake, wait_by)

    # THEN it ran every task its way in its batch's child and settled: a one-step job is never planned again
    described = result["described"]
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"jobId": result["job_id"], "status": "SETTLED"}
    assert result["entered"] == ["PrepareJob", "RunTasks", "MoreRounds", "SettleJob"]
    assert result["planned"] == []
    assert result["submitted"] == list(range(TASKS))  # every task goes through the submitter
    assert {m["jobId"] for m in result["messages"]} == {result["job_id"]}
    assert all(m["taskToken"] for m in result["messages"])
    assert result["failed"] == [(FAILING, "ValueError")]
    if wait_by == "POLL":
        # a running task is checked again by the Retry until it ends; an ended one never
        expected = {i: NOT_READY_CHECKS + 1 for i in range(TASKS) if i != FAILING and i not in ENDED}
        assert result["checks"] == expected
    else:
        assert result["checks"] == {}  # a webhook task needs no state after its submission
    assert 1 <= result["peak"] <= 2  # MaxConcurrencyPath
    assert result["written"], "ResultWriter wrote nothing under mapruns/"


def test_metering_counts_each_poll_retry_as_a_state_transition(stack: LocalStack, fake: Any) -> None:
    from genjobs_local import metering

    # GIVEN the bench's meter around a polled job
    meter = metering.enable()
    meter.reset()
    try:
        run(stack, fake, "POLL")
        snapshot = meter.snapshot()
    finally:
        metering.disable()
    # THEN a check that found the task running (a Retry) is billed like a state entered
    running = TASKS - len(ENDED) - 1
    polled_task = 2 + 1 + NOT_READY_CHECKS  # SubmitTask, WaitForProvider, the check and its retries
    ended_task = 1  # SubmitTask
    failed_task = 2  # SubmitTask, FailTask
    children = len(batches(list(range(TASKS)), CONCURRENCY, cap=50))
    child = 1  # RunBatch, the inline Map over the batch's tasks
    parent = 4  # PrepareJob, RunTasks, MoreRounds, SettleJob
    assert snapshot["executions"]["child"] == children == 1  # 6 tasks, one child running 2 at a time
    assert snapshot["event_types"]["RetryAttempt"] == running * NOT_READY_CHECKS
    # and every child execution the Distributed Map starts is one more (AWS bills each start)
    assert snapshot["child_starts"] == children
    assert snapshot["state_transitions"] == (
        parent
        + children * child
        + running * polled_task
        + len(ENDED) * ended_task
        + failed_task
        + children  # child starts
    )


def test_a_job_cancelled_before_its_tasks_run_is_settled_without_submitting_any(
    stack: LocalStack, fake: Any
) -> None:
    # WHEN PrepareJob finds the job already cancelled
    result = run(stack, fake, "POLL", cancelled=True)

    # THEN its empty manifest runs nothing and the execution settles: no task runs
    assert result["described"]["status"] == "SUCCEEDED", result["described"]
    assert result["entered"] == ["PrepareJob", "RunTasks", "MoreRounds", "SettleJob"]
    assert result["submitted"] == []
    assert result["checks"] == {}
