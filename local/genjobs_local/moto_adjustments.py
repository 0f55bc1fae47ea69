"""Every change the local stack makes to moto 5.2.5, in one place, each with the AWS behaviour it restores.

`install(runner)` applies them once per process; later calls only swap the Lambda runner, so a
test session may start several stacks. Each adjustment has a test in tests/local/.
"""

from __future__ import annotations

import copy
import functools
import hmac
import importlib
import inspect
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import boto3
from botocore.auth import HmacV1Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction
from moto.core.config import default_user_config
from moto.core.utils import unix_time_millis
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.sqs.models import Message
from moto.sqs.models import Queue as SqsQueue
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import Heartbeat
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout, TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment

from genjobs_local import dynamodb_limits, fair_queues, iam, streams
from genjobs_local.clock import queue_wall_seconds, wall_seconds
from genjobs_local.lambda_runtime import LambdaRunner

_installed = False
_runner: LambdaRunner | None = None


def use_runner(runner: LambdaRunner | None) -> None:
    """The runner that moto's Lambda invokes (one stack at a time per process)."""
    global _runner
    _runner = runner


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    execute_state_machines()
    iam_has_aws_managed_policies()
    run_lambda_code_in_process()
    iam_accepts_policies_without_version()
    s3_policy_conditions_are_not_ignored()
    s3_presigned_urls_expire_and_are_verified()
    serialize_dynamodb()
    transact_write_snapshots_touched_items()
    dynamodb_query_reads_one_partition()
    dynamodb_limits.install()
    state_machine_service_clients_are_reused()
    state_machine_json_paths_are_parsed_once()
    server_finds_each_hosts_backend_once()
    sqs_mappings_do_not_fire_on_send()
    streams.stream_mappings_do_not_fire_on_write()
    sqs_timeouts_in_schedule_seconds()
    fair_queues.install()  # standard queues deliver by MessageGroupId as SQS fair queues do
    state_machine_waits_in_schedule_seconds()
    retry_intervals_in_schedule_seconds()
    task_timeouts_in_schedule_seconds()
    functions_sign_with_their_roles()


def execute_state_machines() -> None:
    # AWS runs executions; moto only records them unless this config flag is on.
    default_user_config["stepfunctions"]["execute_state_machine"] = True


def iam_has_aws_managed_policies() -> None:
    # AWS has its managed policies (SAM attaches AWSLambdaBasicExecutionRole); moto loads them on request.
    default_user_config["iam"]["load_aws_managed_policies"] = True


def run_lambda_code_in_process() -> None:
    # AWS runs the function's code; moto would start a Docker container (none here).
    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        if _runner is None:
            raise RuntimeError("no local stack is running")
        payload, errored = _runner.run(self.function_name, {} if event is None else event)
        return payload, errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]


def functions_sign_with_their_roles() -> None:
    # AWS signs each function's calls with its role and checks them; moto shares one key, checks nothing.
    iam.install()


def iam_accepts_policies_without_version() -> None:
    # AWS takes a policy without Version (as 2008-10-17; SAM's policy templates omit it); moto rejects it.
    from moto.iam.policy_validation import VALID_VERSIONS, IAMPolicyDocumentValidator

    def _validate_version(self: IAMPolicyDocumentValidator) -> None:
        assert self._policy_json.get("Version", "2008-10-17") in VALID_VERSIONS

    IAMPolicyDocumentValidator._validate_version = _validate_version  # type: ignore[method-assign,assignment]


def s3_policy_conditions_are_not_ignored() -> None:
    # AWS evaluates a bucket policy's Conditions (SDK calls are TLS, so the template's "Deny if
    # aws:SecureTransport is false" never matches); moto ignores Conditions, so it denies every request.
    # moto cannot evaluate them, so statements with a Condition are left out of its enforcement.
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document.get("Statement", [])
        document["Statement"] = [
            s for s in (statements if isinstance(statements, list) else [statements]) if "Condition" not in s
        ]
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


_PRESIGN_AUTH_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
}


def _s3_error(code: str, message: str, **extra: str) -> tuple[int, dict[str, str], str]:
    fields = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{fields}</Error>"
    )
    return 403, {"Content-Type": "application/xml"}, body


def _presigned_refusal(method: str, url: str, host: str) -> tuple[int, dict[str, str], str] | None:
    """S3's answer to a presigned request (SigV4 or SigV2 query auth) that expired or is not signed right."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    if "X-Amz-Signature" in params and "X-Amz-Date" in params and "X-Amz-Expires" in params:
        signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires_at = signed_at + timedelta(seconds=int(params["X-Amz-Expires"]))
        access_key, given = params.get("X-Amz-Credential", "").partition("/")[0], params["X-Amz-Signature"]
    elif "Signature" in params and "Expires" in params and "AWSAccessKeyId" in params:
        # SigV2, which boto3 presigns with by default in us-east-1 and the other pre-2014 regions.
        expires_at = datetime.fromtimestamp(int(params["Expires"]), UTC)
        access_key, given = params["AWSAccessKeyId"], params["Signature"]
    else:
        return None
    now = datetime.now(UTC)
    if now > expires_at:
        expired = {
            "Expires": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if "X-Amz-Expires" in params:
            expired = {"X-Amz-Expires": params["X-Amz-Expires"], **expired}
        return _s3_error("AccessDenied", "Request has expired", **expired)
    # The signature can be checked for the credentials this process signs with and for the roles'
    # assumed ones (moto's STS keeps their secrets); moto keeps no secret for another access key id.
    secret = iam.assumed_secret(access_key)
    assumed = secret is not None
    if secret is None:
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if access_key != os.environ.get("AWS_ACCESS_KEY_ID") or not secret:
            return None
    credentials = Credentials(access_key, secret, params.get("X-Amz-Security-Token"))
    unsigned = [(k, v) for k, v in query if k not in _PRESIGN_AUTH_PARAMS]
    if "X-Amz-Signature" in params:
        scope = params["X-Amz-Credential"].split("/")
        request = AWSRequest(
            method=method, url=urlunsplit(parts._replace(query=urlencode(unsigned))), headers={"host": host}
        )
        region = scope[2] if len(scope) > 2 else "us-east-1"
        signer = S3SigV4QueryAuth(credentials, "s3", region, expires=int(params["X-Amz-Expires"]))
        # add_auth would stamp the request with the current time; sign for the URL's own X-Amz-Date.
        request.context["timestamp"] = params["X-Amz-Date"]
        signer._modify_request_before_signing(request)  # type: ignore[attr-defined]
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
    else:
        # A browser's GET carries no Content-MD5, Content-Type or x-amz-* headers: Expires takes Date's place.
        v2 = HmacV1Auth(credentials)
        resource = v2.canonical_resource(parts._replace(query=urlencode(unsigned)))
        expected = v2.sign_string(f"{method}\n\n\n{params['Expires']}\n{resource}")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return _s3_error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            AWSAccessKeyId=access_key,
        )
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    if assumed and iam.presigned_refusal(access_key, params.get("X-Amz-Security-Token", ""), bucket, key):
        return _s3_error("AccessDenied", "Access Denied")
    return None


def s3_presigned_urls_expire_and_are_verified() -> None:
    # AWS refuses a presigned GET after X-Amz-Expires (403 "Request has expired") or with a wrong signature; moto serves both.
    from moto.s3.responses import S3Response

    original = S3Response._key_response

    def _key_response(self: S3Response, request: Any, full_url: str) -> Any:
        if request.method in ("GET", "HEAD") and "Authorization" not in request.headers:
            refusal = _presigned_refusal(request.method, full_url, request.headers.get("Host", ""))
            if refusal is not None:
                return refusal
        return original(self, request, full_url)

    S3Response._key_response = _key_response  # type: ignore[method-assign]


_dynamodb_lock = threading.RLock()


def serialize_dynamodb() -> None:
    # AWS applies each item write atomically; moto's backend loses concurrent updates to one item.
    original: Callable[[DynamoHandler], Any] = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with _dynamodb_lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


class _TableCopySkipper:
    """Stands in for the `copy` module inside moto.dynamodb.models during a transaction."""

    active = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(self.active, "on", False) and isinstance(value, Table):
            return value  # the rollback below restores items; no copy of the whole table
        return copy.deepcopy(value, memo)


def transact_write_snapshots_touched_items() -> None:
    # AWS's TransactWriteItems costs the same whatever the table size; moto deep-copies every touched table.
    import moto.dynamodb.models as models

    assert models.__dict__["copy"] is copy
    models.__dict__["copy"] = _TableCopySkipper()
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        before: list[tuple[Table, dict[str, Any], Any]] = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName", ""))
            if table is None:
                continue
            key = op.get("Key") or {
                a: op["Item"][a] for a in (table.hash_key_attr, table.range_key_attr) if a
            }
            before.append((table, key, copy.deepcopy(self.get_item(table.name, key))))
        _TableCopySkipper.active.on = True
        try:
            original(self, transact_items)
        except Exception:
            for table, key, item in reversed(before):
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                if item is None:
                    table.delete_item(hash_value, range_value)
                else:
                    table.put_item(item.to_json()["Attributes"])
            raise
        finally:
            _TableCopySkipper.active.on = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


_query_scope = threading.local()


def dynamodb_query_reads_one_partition() -> None:
    # AWS's Query reads the queried partition; moto's sorts every item of the table first (for an
    # index too, which it sorts again by the index's keys), all under the lock that serialises
    # DynamoDB: with 200 jobs in the table, queries took a fifth of the process's CPU and made every
    # other DynamoDB call wait. Here a table Query reads its partition's items and an index Query
    # every item unsorted; both results are sorted by moto afterwards exactly as before (by range
    # key within a partition, by the index's and then the table's keys for an index).
    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        partition = None if arguments.get("index_name") else arguments.get("hash_key")
        previous = getattr(_query_scope, "scope", None)
        _query_scope.scope = (self, partition)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query_scope.scope = previous

    def all_items(self: Table) -> list[Any]:
        scope = getattr(_query_scope, "scope", None)
        if scope is None or scope[0] is not self:
            return original_all_items(self)
        partition = scope[1]
        if partition is None:
            groups = list(self.items.values())
        else:
            group = self.items.get(partition)  # .get: items is a defaultdict
            groups = [] if group is None else [group]
        if not self.range_key_attr:
            return groups
        return [item for group in groups for item in group.values()]

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


_SERVICE_CLIENT_USERS = [
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk",
]


def state_machine_service_clients_are_reused() -> None:
    # Step Functions calls services over kept-alive connections; moto's interpreter builds a new boto3
    # client for every service call of every state (a tenth of the CPU under load), and each new
    # client opens a new connection, on which moto's server starts a new thread. Clients are kept per
    # service and endpoint (boto3 clients are thread-safe; creating them is not, hence the lock).
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    clients: dict[tuple[str, str, str | None], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # As moto's, but for the pool: hundreds of map iterations share a client; keep their connections.
        endpoint = None if botocore_stubber.enabled else moto_server_port()
        key = (region, service, endpoint)
        with lock:
            if key not in clients:
                timeout = TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
                clients[key] = boto3.client(  # type: ignore[call-overload]
                    service_name=service,
                    region_name=region,
                    aws_access_key_id="ak",
                    aws_secret_access_key="sk",
                    endpoint_url=None if endpoint is None else f"http://localhost:{endpoint}",
                    config=Config(
                        parameter_validation=False,
                        retries={"max_attempts": 0, "total_max_attempts": 1},
                        connect_timeout=timeout,
                        read_timeout=timeout,
                        max_pool_connections=200,
                    ),
                )
            return clients[key]

    for name in _SERVICE_CLIENT_USERS:
        module = importlib.import_module(name)
        assert module.__dict__["boto_client_for"] is original, name
        module.__dict__["boto_client_for"] = boto_client_for
    boto_client.boto_client_for = boto_client_for


def state_machine_json_paths_are_parsed_once() -> None:
    # Step Functions evaluates a definition's JSONPaths at its own cost; moto's interpreter builds a
    # jsonpath-ng parser (PLY tables included) for every path of every state it runs, a twentieth of
    # the CPU under load. Parsed paths are immutable: each distinct path is parsed once.
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.__dict__["parse"] = functools.lru_cache(maxsize=4096)(json_path.__dict__["parse"])


def server_finds_each_hosts_backend_once() -> None:
    # AWS routes a request by its endpoint at no cost to the caller; moto's server finds the backend
    # for every request by listing its package directory (an isdir per service, twice) and trying
    # its URL patterns, under the one lock every request takes: about 8% of the stack's busy time
    # under load, serialising all calls behind it. A host's backend never changes: each is found once.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    DomainDispatcherApplication.get_backend_for_host = functools.lru_cache(maxsize=None)(  # type: ignore[method-assign]
        DomainDispatcherApplication.get_backend_for_host
    )


def sqs_mappings_do_not_fire_on_send() -> None:
    # AWS polls SQS for a mapping; moto invokes it inside SendMessage only. The stack runs pollers instead.
    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
        mapping = original(self, spec)
        for queue in _sqs_queues():
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def _sqs_queues() -> list[SqsQueue]:
    from moto.sqs.models import sqs_backends

    return [
        q
        for account in sqs_backends.values()
        for backend in account.values()
        for q in backend.queues.values()
    ]


def sqs_timeouts_in_schedule_seconds() -> None:
    # AWS counts visibility timeouts and delays in seconds of the schedule; moto in whole wall seconds.
    def change_visibility(self: Message, visibility_timeout: int) -> None:
        self.visible_at = unix_time_millis() + queue_wall_seconds(visibility_timeout) * 1000

    def delay(self: Message, delay_seconds: int) -> None:
        self.delayed_until = unix_time_millis() + queue_wall_seconds(delay_seconds) * 1000

    Message.change_visibility = change_visibility  # type: ignore[method-assign]
    Message.delay = delay  # type: ignore[method-assign]


def state_machine_waits_in_schedule_seconds() -> None:
    # AWS Wait states last their schedule seconds; moto sleeps them in wall time (and int() breaks fractions).
    def _wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
        deadline = time.monotonic() + wall_seconds(wait_seconds)
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            env.program_state_event.wait(remaining)  # set on stop: re-check is_running()

    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]


class _ScaledSleep:
    """Stands in for the `time` module inside retrier_decl: Retry intervals sleep scaled."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(wall_seconds(seconds))


def retry_intervals_in_schedule_seconds() -> None:
    # AWS waits Retry intervals (with backoff) in schedule time; moto sleeps them in wall time.
    retrier_decl.__dict__["time"] = _ScaledSleep()


def task_timeouts_in_schedule_seconds() -> None:
    # AWS enforces TimeoutSeconds/HeartbeatSeconds in schedule time; moto enforces them in wall time.
    def timeout_eval_body(self: Timeout, env: Environment) -> None:
        seconds = self._eval_seconds(env=env)
        default = isinstance(self, TimeoutSeconds) and self.is_default_value()
        env.stack.append(seconds if default else wall_seconds(seconds))

    def heartbeat_eval_body(self: Heartbeat, env: Environment) -> None:
        env.stack.append(wall_seconds(self._eval_seconds(env=env)))

    Timeout._eval_body = timeout_eval_body  # type: ignore[method-assign]
    Heartbeat._eval_body = heartbeat_eval_body  # type: ignore[method-assign]
