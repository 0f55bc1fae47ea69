"""Every change the local stack makes to moto 5.2.5, in one place, each with the AWS behaviour it restores.

`install(runner)` applies them once per process; later calls only swap the Lambda runner, so a
test session may start several stacks. Each adjustment has a test in tests/local/.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from typing import Any

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

from genjobs_local.clock import wall_seconds
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
    serialize_dynamodb()
    transact_write_snapshots_touched_items()
    sqs_mappings_do_not_fire_on_send()
    sqs_timeouts_in_schedule_seconds()
    state_machine_waits_in_schedule_seconds()
    retry_intervals_in_schedule_seconds()
    task_timeouts_in_schedule_seconds()


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
        self.visible_at = unix_time_millis() + wall_seconds(visibility_timeout) * 1000

    def delay(self: Message, delay_seconds: int) -> None:
        self.delayed_until = unix_time_millis() + wall_seconds(delay_seconds) * 1000

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
