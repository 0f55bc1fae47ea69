"""The designs a team would otherwise build, deployed on the running local stack beside genjobs.

- *poll-loop*: one execution per job, an inline Map whose item runs Submit -> Wait 5 s -> Poll ->
  Choice (back to Wait until the provider is done) -> Record (DynamoDB putItem).
- *callback*: one execution per job, an inline Map whose item submits with a task token
  (`lambda:invoke.waitForTaskToken`) that the webhook's Lambda answers, then Record.
- *floor*: no workflow: a Lambda submits each image, the webhook's Lambda copies the output and
  records the result.

Every design copies each output into S3 and writes one result item per image in DynamoDB, as genjobs
does. Their functions run in-process like the template's (metered the same way); the provider's
webhooks reach them through a small HTTP server standing in for API Gateway (each request counted as
one HTTP API request). Table, bucket and functions are deployed through moto's own APIs.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bench.designs import handlers
from genjobs_local import metering
from genjobs_local.lambda_runtime import FunctionSpec
from genjobs_local.provisioner import placeholder_zip
from genjobs_local.stack import LocalStack

DESIGNS = ("poll-loop", "callback", "floor")
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MEMORY_MB = 256  # the template's Globals: the same memory as genjobs' functions
MODEL = "sim-image"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# logical id -> handler
FUNCTIONS = {
    "DesignSubmitFunction": "bench.designs.handlers.submit",
    "DesignPollFunction": "bench.designs.handlers.poll",
    "DesignCallbackWebhookFunction": "bench.designs.handlers.callback_webhook",
    "DesignFloorWebhookFunction": "bench.designs.handlers.floor_webhook",
}
WEBHOOK_FUNCTIONS = {"/callback": "DesignCallbackWebhookFunction", "/floor": "DesignFloorWebhookFunction"}
MACHINES = {"poll-loop": "poll_loop.asl.json", "callback": "callback.asl.json"}
_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class Designs:
    stack: LocalStack
    webhook_url: str
    machines: dict[str, str]  # design -> state machine ARN
    server: ThreadingHTTPServer

    @classmethod
    def deploy(cls, stack: LocalStack) -> Designs:
        """Table, bucket, functions, state machines and the webhook front, on `stack`."""
        # A new stack is a new set of execution environments: no client of an earlier one survives.
        handlers._client.cache_clear()
        handlers._http.cache_clear()
        stack.client("dynamodb").create_table(
            TableName=handlers.TABLE,
            KeySchema=[
                {"AttributeName": "job", "KeyType": "HASH"},
                {"AttributeName": "image", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "job", "AttributeType": "S"},
                {"AttributeName": "image", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        stack.client("s3").create_bucket(Bucket=handlers.BUCKET)
        role = stack.client("iam").create_role(
            RoleName="designs-role", AssumeRolePolicyDocument=json.dumps(_TRUST)
        )["Role"]["Arn"]
        arns = {
            logical_id: _function(stack, logical_id, handler, role)
            for logical_id, handler in FUNCTIONS.items()
        }
        substitutions = {
            "${SubmitFunctionArn}": arns["DesignSubmitFunction"],
            "${PollFunctionArn}": arns["DesignPollFunction"],
            "${TableName}": handlers.TABLE,
        }
        machines = {}
        for design, file in MACHINES.items():
            definition = (HERE / file).read_text()
            for placeholder, value in substitutions.items():
                definition = definition.replace(placeholder, value)
            created = stack.client("stepfunctions").create_state_machine(
                name=f"designs-{design}", definition=definition, roleArn=role
            )
            machines[design] = created["stateMachineArn"]
        server = _webhook_server(stack)
        host, port = server.server_address[:2]
        return cls(stack, f"http://{host!s}:{port}", machines, server)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def start(self, design: str, job: str, n: int, latency: float) -> None:
        """One job of n images; returns once every image is submitted (floor) or the execution started."""
        work = {"job": job, "simulator": self.stack.simulator_url, "model": MODEL, "latency": latency}
        if design == "floor":
            for image in range(n):
                self.stack.invoke(
                    "DesignSubmitFunction", work | {"image": image, "webhook": f"{self.webhook_url}/floor"}
                )
            return
        execution = work | {"images": list(range(n))}
        if design == "callback":
            execution["webhook"] = f"{self.webhook_url}/callback"
        self.stack.client("stepfunctions").start_execution(
            stateMachineArn=self.machines[design], name=job, input=json.dumps(execution)
        )

    # ---- in-process reads (not metered) ----
    def results(self, job: str) -> list[dict[str, Any]]:
        """The job's result items, read from moto's memory."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        from bench.harness import _plain, metering_lock

        table = dynamodb_backends[ACCOUNT][REGION].get_table(handlers.TABLE)
        with metering_lock():
            partition = table.items.get(DynamoType({"S": job}))
            found = [] if partition is None else list(partition.values())
        return [_plain(item.to_json()["Attributes"]) for item in found]

    def outputs(self, job: str) -> list[str]:
        """The keys of the job's outputs in S3, read from moto's memory."""
        from moto.s3.models import s3_backends

        bucket = s3_backends[ACCOUNT]["aws"].buckets[handlers.BUCKET]
        return sorted(key for key in list(bucket.keys.keys()) if key.startswith(f"{job}/"))

    def wait(self, job: str, n: int, timeout: float) -> bool:
        """Until the job has n results; False if it does not within `timeout` wall seconds."""
        deadline = time.monotonic() + timeout
        while len(self.results(job)) < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


def _function(stack: LocalStack, logical_id: str, handler: str, role: str) -> str:
    name = f"designs-{logical_id}"
    created = stack.client("lambda").create_function(
        FunctionName=name,
        Role=role,
        Runtime="python3.13",
        Handler=handler,
        Code={"ZipFile": placeholder_zip()},
        Timeout=30,
        MemorySize=MEMORY_MB,
        Architectures=["arm64"],
    )
    stack.runner.add(
        FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=created["FunctionArn"],
            handler=handler,
            code_dir=ROOT,
            memory_mb=MEMORY_MB,
            timeout_s=30,
            log_group=f"/aws/lambda/{name}",
        )
    )
    return str(created["FunctionArn"])


def _webhook_server(stack: LocalStack) -> ThreadingHTTPServer:
    """The designs' webhook endpoints, in front of their functions as API Gateway would be."""

    class Front(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            function = WEBHOOK_FUNCTIONS.get(url.path)
            if function is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if metering.enabled():
                metering.meter.api(url.path.strip("/"))
            event = {
                "version": "2.0",
                "rawPath": url.path,
                "rawQueryString": url.query,
                "queryStringParameters": dict(parse_qsl(url.query)),
                "body": body,
                "isBase64Encoded": False,
            }
            _, errored = stack.runner.run(function, event)
            self.send_response(500 if errored else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="designs-webhooks", daemon=True).start()
    return server
