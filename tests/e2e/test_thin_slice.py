"""A job created over HTTP runs through the real state machine and handlers and reads COMPLETED."""

from __future__ import annotations

import json

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_job


def test_job_runs_end_to_end_by_polling_and_reads_completed(stack: LocalStack, app: Client) -> None:
    # GIVEN a user with credits
    # WHEN a 3-task job is created over HTTP
    created = app.create(sim_job(3, progressSteps=3))
    assert created["status"] == "PENDING"
    assert created["plan"] == {"taskCount": 3, "unitPrice": 1, "creditsReserved": 3}
    # THEN it runs to COMPLETED with every task's output stored
    job = app.wait(created["jobId"])
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 3
    assert job["progress"] == 100.0
    assert all(t["status"] == "COMPLETED" and len(t["outputs"]) == 1 for t in job["tasks"])

    # AND DynamoDB holds the tasks, each with its provider id and stored output
    table = stack.resource("JobsTable")
    items = stack.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :task)",
        ExpressionAttributeValues={":pk": {"S": f"JOB#{job['jobId']}"}, ":task": {"S": "TASK#"}},
    )["Items"]
    assert [i["status"]["S"] for i in items] == ["COMPLETED"] * 3
    assert all(i["providerId"]["S"] for i in items)
    s3 = stack.client("s3")
    for item in items:
        key = item["outputs"]["L"][0]["M"]["key"]["S"]
        assert s3.head_object(Bucket=stack.resource("OutputBucket"), Key=key)["ContentLength"] > 0

    # AND the execution went through prepare, the map and settlement, and succeeded
    sfn = stack.client("stepfunctions")
    arn = (
        stack.resource("GenerationStateMachine").replace(":stateMachine:", ":execution:") + f":{job['jobId']}"
    )
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=arn)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered[0] == "PrepareJob"
    assert entered[1:3] == ["RunTasks", "MoreRounds"]
    assert entered[-1] == "SettleJob"
    output = json.loads(
        next(e for e in reversed(history) if "executionSucceededEventDetails" in e)[
            "executionSucceededEventDetails"
        ]["output"]
    )
    assert output == {"jobId": job["jobId"], "status": "COMPLETED"}

    # AND the credits are charged for the 3 images, nothing left reserved
    credits = app.credits()
    assert (credits["available"], credits["reserved"], credits["charged"]) == (47, 0, 3)
