"""statemachine/generation.asl.json, as provisioned from the template, runs end to end on the local stack.

The functions are small fakes; the ASL, the queue, the poller and the callbacks are the real ones:
Distributed Map with ItemReader from S3, MaxConcurrencyPath, ResultWriter, Catch to FailTask, and
`sqs:sendMessage.waitForTaskToken` answered by the submitter through SendTaskSuccess.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from genjobs_local import LocalStack

TASKS = 6
FAILING, SKIPPED = 3, 5  # StartTask raises for task 3; task 5 needs no submission
POLLED = {0, 2, 4}  # the submitter answers POLL for these, DONE for the others


def test_generation_workflow_runs_every_task_through_the_real_asl(stack: LocalStack, fake: Any) -> None:
    # GIVEN fake task functions around the real state machine
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    s3, bucket = stack.client("s3"), stack.resource("OutputBucket")
    sfn = stack.client("stepfunctions")
    running, peak, lock = 0, 0, threading.Lock()

    def prepare(event: Any, context: Any) -> dict[str, Any]:
        manifest = [{"jobId": event["jobId"], "taskIndex": i} for i in range(TASKS)]
        key = f"manifests/{event['jobId']}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
        return {"jobId": event["jobId"], "manifestKey": key, "concurrency": 2}

    def start_task(event: Any, context: Any) -> dict[str, Any]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.05)
            if event["taskIndex"] == FAILING:
                raise ValueError("unknown model")
            action = "SKIP" if event["taskIndex"] == SKIPPED else "SUBMIT"
            return event | {"action": action, "heartbeatSeconds": 3600, "deadlineSeconds": 7200}
        finally:
            with lock:
                running -= 1

    def submit(event: Any, context: Any) -> None:
        for record in event["Records"]:
            message = json.loads(record["body"])
            mode = "POLL" if message["taskIndex"] in POLLED else "DONE"
            sfn.send_task_success(
                taskToken=message["taskToken"], output=json.dumps({"mode": mode, "waitSeconds": 30})
            )

    fake("PrepareJobFunction", prepare)
    fake("StartTaskFunction", start_task)
    submitter = fake("SubmitterFunction", submit)
    poll = fake("PollTaskFunction", lambda event, context: {"mode": "DONE", "waitSeconds": 0})
    fail = fake("FailTaskFunction")
    fake("SettleJobFunction", lambda event, context: {"jobId": event["jobId"], "status": "SETTLED"})

    # WHEN a job's execution runs
    execution = sfn.start_execution(
        stateMachineArn=stack.resource("GenerationStateMachine"),
        name=job_id,
        input=json.dumps({"jobId": job_id}),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.05)

    # THEN it settled after every task ended its way
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"jobId": job_id, "status": "SETTLED"}
    submitted = sorted(json.loads(r["body"])["taskIndex"] for c in submitter.calls for r in c["Records"])
    assert submitted == [0, 1, 2, 4]
    assert sorted(c["taskIndex"] for c in poll.calls) == sorted(POLLED)
    assert [(c["taskIndex"], c["error"]["Error"]) for c in fail.calls] == [(FAILING, "ValueError")]
    assert 1 <= peak <= 2  # MaxConcurrencyPath
    written = s3.list_objects_v2(Bucket=bucket, Prefix="mapruns/").get("Contents", [])
    assert written, "ResultWriter wrote nothing under mapruns/"
