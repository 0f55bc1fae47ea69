"""Each function and the state machine call AWS with their own role, and the local stack refuses,
records and reports what the template's roles do not allow, as AWS would."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from genjobs_local import LocalStack
from genjobs_local.iam import Check


def outcome(call: Any) -> str:
    """ "ok", or the error code of the ClientError the call raised."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def run_as(stack: LocalStack, function: str, body: Any) -> Any:
    """Runs `body()` as `function`'s code, in a real invocation of it, and returns what it returned."""
    stack.override_handler(function, lambda event, context: body())
    try:
        return stack.invoke(function, {})
    finally:
        stack.override_handler(function, None)


def product_client(service: str) -> Any:
    # The product's own client cache, shared by every function in this process (as in the handlers).
    from genjobs.dal import aws

    return aws.client(service)


def new_denials(stack: LocalStack, before: int) -> list[Check]:
    assert stack.identities is not None
    return stack.identities.denials[before:]


@pytest.fixture
def denials_before(stack: LocalStack) -> int:
    assert stack.identities is not None
    return len(stack.identities.denials)


def test_a_call_the_role_lacks_is_denied_and_the_same_call_with_the_grant_passes(
    stack: LocalStack, denials_before: int
) -> None:
    secret = stack.resource("ProviderSecret")

    def read_secret() -> str:
        return outcome(lambda: product_client("secretsmanager").get_secret_value(SecretId=secret))

    # FailTask never talks to a provider: its role has no secret permission. PollTask's has.
    assert run_as(stack, "FailTaskFunction", read_secret) == "AccessDeniedException"
    assert run_as(stack, "PollTaskFunction", read_secret) == "ok"
    assert new_denials(stack, denials_before) == [
        Check("FailTaskFunction", "secretsmanager:GetSecretValue", secret)
    ]


def test_dynamodb_is_checked_per_table_index_and_per_item_action(
    stack: LocalStack, denials_before: int
) -> None:
    table = stack.resource("JobsTable")
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"

    def calls() -> dict[str, str]:
        ddb = product_client("dynamodb")
        key = {"pk": {"S": f"IAMTEST#{uuid.uuid4()}"}, "sk": {"S": "X"}}
        return {
            "scan": outcome(lambda: ddb.scan(TableName=table, Limit=1)),
            "gsi1": outcome(
                lambda: ddb.query(
                    TableName=table,
                    IndexName="gsi1",
                    KeyConditionExpression="gsi1pk = :p",
                    ExpressionAttributeValues={":p": {"S": "nobody"}},
                )
            ),
            "transact-delete": outcome(
                lambda: ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": key}}])
            ),
            "transact-put": outcome(
                lambda: ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": key}}])
            ),
        }

    # The API lists a user's jobs (gsi1), deletes devices and counts the jobs of an operator's bulk
    # operation (scan); FailTask does none of it.
    assert run_as(stack, "ApiFunction", calls) == {
        "scan": "ok",
        "gsi1": "ok",
        "transact-delete": "ok",
        "transact-put": "ok",
    }
    assert run_as(stack, "FailTaskFunction", calls) == {
        "scan": "AccessDeniedException",
        "gsi1": "AccessDeniedException",
        "transact-delete": "AccessDeniedException",
        "transact-put": "ok",
    }
    assert set(new_denials(stack, denials_before)) == {
        Check("FailTaskFunction", "dynamodb:Scan", arn),
        Check("FailTaskFunction", "dynamodb:Query", f"{arn}/index/gsi1"),
        Check("FailTaskFunction", "dynamodb:DeleteItem", arn),
    }


def test_the_harness_keeps_its_unrestricted_credentials(stack: LocalStack) -> None:
    table = stack.resource("JobsTable")
    assert "Items" in stack.client("dynamodb").scan(TableName=table, Limit=1)
    stack.client("secretsmanager").get_secret_value(SecretId=stack.resource("ProviderSecret"))


def test_a_presigned_url_is_refused_when_its_signer_may_not_read_the_object(
    stack: LocalStack, denials_before: int
) -> None:
    bucket = stack.resource("OutputBucket")
    # The API reads outputs and plans, never the workflow's task manifests.
    output, manifest = f"outputs/iam-test/{uuid.uuid4()}.txt", f"manifests/{uuid.uuid4()}.json"
    for key in (output, manifest):
        stack.client("s3").put_object(Bucket=bucket, Key=key, Body=b"kept")

    def presign(key: str) -> Any:
        return lambda: product_client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60
        )

    api_output = run_as(stack, "ApiFunction", presign(output))
    api_manifest = run_as(stack, "ApiFunction", presign(manifest))
    notifier_output = run_as(stack, "NotifierFunction", presign(output))
    assert "X-Amz-Security-Token" in api_output  # signed with the role's session, not the process's key

    assert requests.get(api_output, timeout=10).content == b"kept"
    for refused in (api_manifest, notifier_output):
        response = requests.get(refused, timeout=10)
        assert response.status_code == 403
        assert "<Code>AccessDenied</Code>" in response.text
    tampered = api_output.replace(output, output.replace(".txt", ".png"))
    assert "SignatureDoesNotMatch" in requests.get(tampered, timeout=10).text
    assert set(new_denials(stack, denials_before)) == {
        Check("ApiFunction", "s3:GetObject", f"arn:aws:s3:::{bucket}/{manifest}"),
        Check("NotifierFunction", "s3:GetObject", f"arn:aws:s3:::{bucket}/{output}"),
    }


@pytest.fixture
def state_machine_without_sqs_send(stack: LocalStack) -> Iterator[str]:
    """The state machine's role with its sqs:SendMessage policy taken away for one test."""
    iam = stack.client("iam")
    role = next(
        stack.resource(lid)
        for lid, kind in stack.resource_types.items()
        if kind == "AWS::IAM::Role" and lid.startswith("GenerationStateMachine")
    )
    removed = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        if "sqs:SendMessage" in json.dumps(document):
            removed[name] = document
            iam.delete_role_policy(RoleName=role, PolicyName=name)
    assert removed, "the template's state machine role has no sqs:SendMessage grant"
    try:
        yield role
    finally:
        for name, document in removed.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def test_the_state_machine_integration_is_denied_when_its_role_lacks_the_action(
    stack: LocalStack, state_machine_without_sqs_send: str, denials_before: int
) -> None:
    user = f"iam-{uuid.uuid4().hex[:8]}"
    admin = {"Authorization": f"Bearer {stack.mint_token('ops', admin=True)}"}
    mine = {"Authorization": f"Bearer {stack.mint_token(user)}"}
    granted = requests.post(
        f"{stack.api_url}/admin/credits",
        headers=admin,
        json={"userId": user, "amount": 5, "grantId": f"g-{user}"},
        timeout=10,
    )
    assert granted.status_code == 200
    created = requests.post(
        f"{stack.api_url}/jobs",
        headers=mine,
        json={"provider": "simulator", "model": "sim-image", "input": {"prompt": "x"}, "tasks": [{}]},
        timeout=10,
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["jobId"]
    queue_arn = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resource("SubmitQueue"), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]

    deadline = time.monotonic() + 60
    while Check("GenerationStateMachine", "sqs:SendMessage", queue_arn) not in new_denials(
        stack, denials_before
    ):
        assert time.monotonic() < deadline, "the state machine's SendMessage was not denied"
        time.sleep(0.1)
    # A task that cannot be submitted ends, and its credits come back.
    while (job := requests.get(f"{stack.api_url}/jobs/{job_id}", headers=mine, timeout=10).json())[
        "status"
    ] not in ("COMPLETED", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline, f"job still {job['status']}"
        time.sleep(0.1)
    assert job["status"] == "FAILED"
    balance = requests.get(f"{stack.api_url}/credits", headers=mine, timeout=10).json()
    assert balance["reserved"] == 0
    assert balance["granted"] == balance["available"] + balance["reserved"] + balance["charged"] == 5


class User:
    """One user of the API with a few credits."""

    def __init__(self, stack: LocalStack, credits: int = 10) -> None:
        self.stack, self.user = stack, f"iam-{uuid.uuid4().hex[:8]}"
        self.headers = {"Authorization": f"Bearer {stack.mint_token(self.user)}"}
        granted = requests.post(
            f"{stack.api_url}/admin/credits",
            headers={"Authorization": f"Bearer {stack.mint_token('ops', admin=True)}"},
            json={"userId": self.user, "amount": credits, "grantId": f"g-{self.user}"},
            timeout=10,
        )
        assert granted.status_code == 200

    def create(self, model: str, n: int, **sim: Any) -> str:
        body = {
            "provider": "simulator",
            "model": model,
            "input": {"prompt": "x", "sim": {"latency": 5, **sim}},
            "tasks": [{"seed": i} for i in range(n)],
        }
        created = requests.post(f"{self.stack.api_url}/jobs", headers=self.headers, json=body, timeout=10)
        assert created.status_code == 202, created.text
        return str(created.json()["jobId"])

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.stack.api_url}{path}", headers=self.headers, timeout=10)
        assert response.status_code < 500, response.text
        return response.json()

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (job := self.get(f"/jobs/{job_id}"))["status"] not in ("COMPLETED", "FAILED", "CANCELLED"):
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
            time.sleep(0.1)
        return dict(job)

    def assert_ledger_closed(self, granted: int) -> None:
        balance = self.get("/credits")
        assert balance["reserved"] == 0
        assert balance["granted"] == balance["available"] + balance["charged"] == granted


def test_webhook_mode_throttled_and_cancelled_jobs_run_within_their_roles(
    stack: LocalStack, denials_before: int
) -> None:
    # The paths the deployed roles broke: PrepareJob reads the secret to learn that a model waits
    # by webhook (every Replicate and fal job); a throttled submission backs off by changing its
    # message's visibility; a cancelled job's settlement builds the provider adapter to cancel.
    user = User(stack)
    webhook = user.create("sim-image-webhook", 2)
    throttled = user.create("sim-image", 1, throttle=1, retryAfter=1)
    cancelled = user.create("sim-image-webhook", 2, latency=600)
    deadline = time.monotonic() + 30
    while user.get(f"/jobs/{cancelled}")["counts"]["PROCESSING"] < 2:
        assert time.monotonic() < deadline, "the long tasks never started"
        time.sleep(0.1)
    answer = requests.post(f"{stack.api_url}/jobs/{cancelled}/cancel", headers=user.headers, timeout=10)
    assert answer.status_code == 202

    assert user.wait(webhook)["status"] == "COMPLETED"
    assert user.wait(throttled)["status"] == "COMPLETED"
    assert user.wait(cancelled)["status"] == "CANCELLED"
    events = [e["kind"] for e in user.get(f"/jobs/{throttled}/events")["items"]]
    assert "task.throttled" in events
    stack.wait_idle(timeout=30)
    assert new_denials(stack, denials_before) == []
    user.assert_ledger_closed(10)


def test_a_stack_started_later_in_the_process_gets_empty_per_function_caches() -> None:
    # GIVEN powertools' secret providers made per-function caches, holding a client of an earlier stack
    from aws_lambda_powertools.utilities.parameters import secrets

    from genjobs_local import iam

    place = ("aws_lambda_powertools.utilities.parameters.secrets", "DEFAULT_PROVIDERS")
    iam.caches_per_function(place)
    secrets.DEFAULT_PROVIDERS["secrets"] = "a provider bound to the earlier stack's endpoint"

    # WHEN the next stack makes them per-function caches again
    iam.caches_per_function(place)

    # THEN its functions start with none (they would call the earlier, stopped endpoint)
    assert "secrets" not in secrets.DEFAULT_PROVIDERS


def test_posting_to_a_live_connection_needs_manage_connections(
    stack: LocalStack, denials_before: int
) -> None:
    # GIVEN an open connection of the local WebSocket API
    from websockets.sync.client import connect

    from genjobs.dal import aws

    assert stack.live is not None
    endpoint = stack.live.management_url
    with connect(f"{stack.live_url}?token={stack.mint_token('alice')}", open_timeout=10) as socket:
        deadline = time.monotonic() + 5
        while not stack.live.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        (connection_id,) = list(stack.live._sockets)

        def post() -> str:
            return outcome(
                lambda: aws.management_client(endpoint).post_to_connection(
                    ConnectionId=connection_id, Data=b"{}"
                )
            )

        # WHEN the API function (no grant) and LiveFunction (granted) post to it
        refused = run_as(stack, "ApiFunction", post)
        allowed = run_as(stack, "LiveFunction", post)
        received = socket.recv(timeout=5)

    # THEN the first is refused and recorded, as AWS refuses it; the second reaches the socket
    assert (refused, allowed, received) == ("ForbiddenException", "ok", "{}")
    denied = new_denials(stack, denials_before)
    assert [(d.principal, d.action) for d in denied] == [("ApiFunction", "execute-api:ManageConnections")]
    assert stack.identities is not None
    del stack.identities.denials[
        denials_before:
    ]  # expected here: the session's check is for the product's calls
