"""Optional metering of the AWS work the local stack does (for `python -m bench`); off unless enabled.

`meter = metering.enable()` patches moto and the runtime once per process; `meter.reset()` and
`meter.snapshot()` bracket a measurement; `metering.disable()` makes every hook a pass-through again.
What is counted, and where (each hook is the one place all such work passes through):

- Step Functions: every history event the ASL interpreter adds (`EventManager.add_event`), per
  execution. moto runs Distributed Map children inside the map run and keeps no history for them,
  so `DistributedItemProcessorWorker._eval_job` tags each child's event-history context, frames
  opened inside it (a Task state's service call, nested states) inherit the tag, and the events added
  with a tagged context are keyed to the child.
  A state transition is a `*StateEntered` event, plus one per Retry attempt (AWS bills retries as
  transitions; the interpreter emits no event for them, so `RetrierDecl._eval_body` counts each
  retry it executes, keyed like the events), plus one per child execution a Distributed Map starts
  (AWS bills each child's start). The largest state payload is the longest `input`/`output` in any
  event's details (UTF-8 bytes). The failure events are what the state machine's log group (level
  ERROR) ingests.
- Lambda: every `LambdaRunner.run` (Invoke, Step Functions tasks, SQS pollers, schedules, the HTTP
  front), with its wall duration (from when it has its concurrency slot), the function's memory and
  the most invocations of each function at once; the bytes and lines it logs (metering_logs).
- X-Ray trace roots: each HTTP API request, each SQS- or schedule-triggered invocation and each
  state machine execution starts a trace (the Lambdas a state machine invokes join its trace).
- Requests: every action moto's server dispatches (`BaseResponse.call_action`: DynamoDB, SQS, SNS,
  Step Functions, Secrets Manager...) and every S3 object/bucket request, per service and action;
  SQS requests also in AWS's billing units (each 64 KB of a request's messages is one request).
- DynamoDB capacity: moto's ConsumedCapacity is fake, so units are computed from item sizes by
  AWS's rules: writes 1 KB units of the larger of the item before and after (also when a condition
  fails), plus one write per GSI the item is in (two when its index key changes); reads 4 KB units,
  halved when eventually consistent, a Query/Scan rounding the sum of the items it read;
  transactions count double (base table).
- HTTP API: every request the local API front handles.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from genjobs_local import metering_logs

_installed = False
_enabled = False


# ----------------------------------------------------------------------------- DynamoDB sizes
def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB JSON ({"S": ...}), by AWS's item size rules."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(Decimal(str(inner)).normalize()).lstrip("-").replace(".", "").split("E")[0]
        return math.ceil(len(digits.lstrip("0") or "0") / 2) + 1
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else math.ceil(len(str(inner)) * 3 / 4)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind in {"SS", "NS", "BS"}:
        return sum(value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


# ----------------------------------------------------------------------------- the meter
@dataclass
class Execution:
    kind: str  # "parent" or "child"
    events: int = 0
    transitions: int = 0
    largest_payload: int = 0


@dataclass
class Meter:
    lock: threading.Lock = field(default_factory=threading.Lock)
    executions: dict[str, Execution] = field(default_factory=dict)
    event_types: Counter[str] = field(default_factory=Counter)
    lambda_invocations: Counter[str] = field(default_factory=Counter)
    lambda_gb_seconds: float = 0.0
    lambda_ms: dict[str, list[float]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)  # "service:Action"
    read_units: float = 0.0
    write_units: float = 0.0
    # "Action[item kinds]" -> write units, e.g. "TransactWriteItems[EVENT,JOB,TASK]" (kinds are the
    # sort key's prefix): where the write units go.
    write_units_by: dict[str, float] = field(default_factory=dict)
    api_requests: Counter[str] = field(default_factory=Counter)  # first path segment after the stage
    child_starts: int = 0
    lambda_gb_seconds_by: dict[str, float] = field(default_factory=dict)
    lambda_in_flight: Counter[str] = field(default_factory=Counter)
    lambda_peak: Counter[str] = field(default_factory=Counter)
    trace_roots: Counter[str] = field(default_factory=Counter)  # "api", "sqs", "schedule"
    sqs_billed_requests: int = 0  # 64 KB units, empty receives left out
    log_bytes: Counter[str] = field(default_factory=Counter)  # per function, as CloudWatch sizes events
    log_lines: Counter[str] = field(default_factory=Counter)
    log_emitters: Counter[str] = field(default_factory=Counter)  # "Function|source" -> bytes
    log_emitter_lines: Counter[str] = field(default_factory=Counter)
    state_machine_log_bytes: int = 0

    def reset(self) -> None:
        with self.lock:
            self.executions.clear()
            self.event_types.clear()
            self.lambda_invocations.clear()
            self.lambda_gb_seconds = 0.0
            self.lambda_ms.clear()
            self.requests.clear()
            self.read_units = self.write_units = 0.0
            self.write_units_by.clear()
            self.api_requests.clear()
            self.child_starts = self.sqs_billed_requests = self.state_machine_log_bytes = 0
            for counts in (self.lambda_gb_seconds_by, self.lambda_peak, self.trace_roots, self.log_bytes):
                counts.clear()
            for counts in (self.log_lines, self.log_emitters, self.log_emitter_lines):
                counts.clear()
            # Invocations running across the reset stay counted in flight (not in peak).
            self.lambda_peak.update(self.lambda_in_flight)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            executions = list(self.executions.values())
            states_and_retries = sum(e.transitions for e in executions)
            return {
                "executions": {k: sum(1 for e in executions if e.kind == k) for k in ("parent", "child")},
                # What AWS bills: states entered + Retry attempts + Distributed Map child starts.
                "state_transitions": states_and_retries + self.child_starts,
                "states_entered": states_and_retries - self.event_types["RetryAttempt"],
                "retry_attempts": self.event_types["RetryAttempt"],
                "child_starts": self.child_starts,
                "history_events": sum(e.events for e in executions),
                "max_events": {
                    k: max((e.events for e in executions if e.kind == k), default=0)
                    for k in ("parent", "child")
                },
                "largest_payload_bytes": max((e.largest_payload for e in executions), default=0),
                "event_types": dict(self.event_types),
                "lambda_invocations": dict(self.lambda_invocations),
                "lambda_gb_seconds": self.lambda_gb_seconds,
                "lambda_ms_p50": {f: _median(v) for f, v in self.lambda_ms.items()},
                "requests": dict(self.requests),
                "dynamodb_read_units": self.read_units,
                "dynamodb_write_units": self.write_units,
                "dynamodb_write_units_by": dict(self.write_units_by),
                "api_requests": dict(self.api_requests),
                "lambda_gb_seconds_by": dict(self.lambda_gb_seconds_by),
                "lambda_peak_concurrency": dict(self.lambda_peak),
                "trace_roots": dict(self.trace_roots),
                "sqs_billed_requests": self.sqs_billed_requests,
                "log_bytes": dict(self.log_bytes),
                "log_lines": dict(self.log_lines),
                "log_emitters": {
                    k: {"lines": self.log_emitter_lines[k], "bytes": b}
                    for k, b in self.log_emitters.most_common()
                },
                "state_machine_log_bytes": self.state_machine_log_bytes,
            }

    # ---- recorders (called by the hooks) ----
    def event(self, key: str, kind: str, event_type: str, details: Any) -> None:
        payload = _largest_payload(details)
        logged = metering_logs.state_machine_record_bytes(event_type, details)
        with self.lock:
            self.state_machine_log_bytes += logged
            execution = self.executions.setdefault(key, Execution(kind))
            execution.events += 1
            if event_type.endswith("StateEntered"):
                execution.transitions += 1
            execution.largest_payload = max(execution.largest_payload, payload)
            self.event_types[event_type] += 1

    def retry(self, key: str, kind: str) -> None:
        with self.lock:
            self.executions.setdefault(key, Execution(kind)).transitions += 1
            self.event_types["RetryAttempt"] += 1

    def child_start(self, key: str) -> None:
        with self.lock:
            self.executions.setdefault(key, Execution("child"))
            self.child_starts += 1

    def invocation_started(self, function: str) -> None:
        with self.lock:
            self.lambda_in_flight[function] += 1
            self.lambda_peak[function] = max(self.lambda_peak[function], self.lambda_in_flight[function])

    def invocation(
        self, function: str, memory_mb: int, seconds: float, error_payload: str | None = None
    ) -> None:
        platform = metering_logs.platform_bytes()
        error = metering_logs.error_record_bytes(error_payload) if error_payload is not None else 0
        with self.lock:
            self.log_bytes[function] += platform + error
            self.log_lines[function] += metering_logs.platform_lines() + (1 if error else 0)
            if platform:
                self._emitted(f"{function}|platform START/REPORT", platform, metering_logs.platform_lines())
            if error:
                self._emitted(f"{function}|runtime error record", error, 1)
            self.lambda_in_flight[function] -= 1
            self.lambda_invocations[function] += 1
            # Lambda bills duration in 1 ms steps.
            gb_seconds = memory_mb / 1024 * math.ceil(seconds * 1000) / 1000
            self.lambda_gb_seconds += gb_seconds
            self.lambda_gb_seconds_by[function] = self.lambda_gb_seconds_by.get(function, 0.0) + gb_seconds
            self.lambda_ms.setdefault(function, []).append(seconds * 1000)

    def _emitted(self, emitter: str, size: int, lines: int) -> None:
        self.log_emitters[emitter] += size
        self.log_emitter_lines[emitter] += lines

    def log_line(self, function: str, line: str) -> None:
        size = len(line.encode()) + metering_logs.EVENT_OVERHEAD_BYTES
        emitter = f"{function}|{metering_logs.source_of(line)}"
        with self.lock:
            self.log_bytes[function] += size
            self.log_lines[function] += 1
            self._emitted(emitter, size, 1)

    def trace_root(self, trigger: str) -> None:
        with self.lock:
            self.trace_roots[trigger] += 1

    def sqs_units(self, units: int) -> None:
        with self.lock:
            self.sqs_billed_requests += units

    def request(self, service: str, action: str) -> None:
        with self.lock:
            self.requests[f"{service}:{action}"] += 1

    def capacity(self, read: float, write: float, kind: str = "") -> None:
        with self.lock:
            self.read_units += read
            self.write_units += write
            if write:
                self.write_units_by[kind] = self.write_units_by.get(kind, 0.0) + write

    def api(self, segment: str) -> None:
        with self.lock:
            self.api_requests[segment] += 1


meter = Meter()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _largest_payload(details: Any) -> int:
    if not isinstance(details, dict):
        return 0
    largest = 0
    for body in details.values():
        if isinstance(body, dict):
            for name in ("input", "output"):
                if isinstance(body.get(name), str):
                    largest = max(largest, len(body[name].encode()))
    return largest


# ----------------------------------------------------------------------------- switching
def enable() -> Meter:
    """Installs the hooks (once) and turns counting on; returns the process's meter."""
    global _enabled
    _install()
    # Logging handlers made since the last time (a new stack re-imports the functions) write to it too.
    metering_logs.install(_record_log_line)
    _enabled = True
    return meter


@contextmanager
def counting() -> Iterator[Meter]:
    """The meter on and at zero for the block, then off and at zero again (for tests)."""
    counted = enable()
    counted.reset()
    try:
        yield counted
    finally:
        disable()
        counted.reset()


def disable() -> None:
    global _enabled
    _enabled = False


def enabled() -> bool:
    return _enabled


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from samtranslator.yaml_helper import yaml_parse  # reads the intrinsic tags (!Ref, !Sub...)

    from genjobs_local.paths import DEFAULT_TEMPLATE

    metering_logs.configure(dict(yaml_parse(DEFAULT_TEMPLATE.read_text())))
    _hook_history_events()
    _hook_lambda_runner()
    _hook_requests()
    _hook_dynamodb_capacity()
    _hook_http_api()
    _hook_schedules()


def _record_log_line(function: str, line: str) -> None:
    if _enabled:
        meter.log_line(function, line)


_child_ids = iter(range(1, 1 << 62))
_child_ids_lock = threading.Lock()


def _hook_history_events() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_decl import RetrierDecl
    from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import RetrierOutcome
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    add_event: Callable[..., int] = EventManager.add_event

    def execution_of(manager: EventManager, context: Any) -> tuple[str, str]:
        child = getattr(context, "_metering_child", None)
        return (child, "child") if child else (f"exec-{id(manager)}", "parent")

    def metered_add_event(self: EventManager, context: Any, event_type: Any, *args: Any, **kw: Any) -> int:
        if _enabled:
            details = kw.get("event_details", args[0] if args else None)
            meter.event(*execution_of(self, context), str(event_type), details)
        return add_event(self, context, event_type, *args, **kw)

    retrier_eval: Callable[..., None] = RetrierDecl._eval_body

    def metered_retrier_eval(self: RetrierDecl, env: Environment) -> None:
        retrier_eval(self, env)
        if _enabled and env.stack and env.stack[-1] == RetrierOutcome.Executed:
            meter.retry(*execution_of(env.event_manager, env.event_history_context))

    eval_job = worker.DistributedItemProcessorWorker._eval_job

    def metered_eval_job(self: Any, env: Any, job: Any) -> None:
        with _child_ids_lock:
            key = f"child-{next(_child_ids)}"
        env.event_history_context._metering_child = key
        if _enabled:
            meter.child_start(key)
        eval_job(self, env, job)

    for name in ("open_frame", "open_inner_frame"):
        original = getattr(Environment, name)

        def open_tagged(self: Environment, *args: Any, _o: Any = original, **kw: Any) -> Environment:
            frame = _o(self, *args, **kw)
            child = getattr(self.event_history_context, "_metering_child", None)
            if child is not None and frame.event_history_context is not self.event_history_context:
                frame.event_history_context._metering_child = child
            return frame

        setattr(Environment, name, open_tagged)
    EventManager.add_event = metered_add_event  # type: ignore[method-assign]
    RetrierDecl._eval_body = metered_retrier_eval  # type: ignore[method-assign]
    worker.DistributedItemProcessorWorker._eval_job = metered_eval_job  # type: ignore[method-assign]


def _hook_lambda_runner() -> None:
    from genjobs_local.lambda_runtime import FunctionSpec, LambdaRunner

    # `_run` is the invocation itself, once it has its concurrency slot: Lambda bills the run, not
    # the wait of a throttled caller.
    run = LambdaRunner._run

    def metered_run(self: LambdaRunner, spec: FunctionSpec, event: Any) -> tuple[str, bool]:
        if not _enabled:
            return run(self, spec, event)
        if _sqs_triggered(event):
            meter.trace_root("sqs")
        meter.invocation_started(spec.logical_id)
        started = time.perf_counter()
        error: str | None = None
        try:
            with metering_logs.invocation(spec.logical_id):
                payload, errored = run(self, spec, event)
            error = payload if errored else None
            return payload, errored
        finally:
            meter.invocation(spec.logical_id, spec.memory_mb, time.perf_counter() - started, error)

    LambdaRunner._run = metered_run  # type: ignore[method-assign]


def _hook_requests() -> None:
    from moto.core.responses import BaseResponse
    from moto.s3.responses import S3Response

    call_action = BaseResponse.call_action

    def metered_call_action(self: BaseResponse) -> Any:
        if not _enabled:
            return call_action(self)
        service, action = type(self).__module__.split(".")[1], self._get_action()
        response = call_action(self)
        if service == "sqs" and action == "ReceiveMessage" and "MessageId" not in str(response[-1]):
            # Billed on AWS too, but the local pollers' empty receives are not Lambda's 20 s long polls.
            action = "ReceiveMessage(empty)"
        elif service == "sqs":
            meter.sqs_units(sqs_units(action, self.body, response))
        elif service == "stepfunctions" and action == "StartExecution":
            meter.trace_root("execution")
        meter.request(service, action)
        return response

    BaseResponse.call_action = metered_call_action  # type: ignore[method-assign]

    for name, kind in (("key_response", "Object"), ("bucket_response", "Bucket")):
        original = getattr(S3Response, name)

        def metered(self: Any, request: Any, *args: Any, _o: Any = original, _k: str = kind) -> Any:
            if _enabled:
                meter.request("s3", f"{request.method}{_k}")
            return _o(self, request, *args)

        setattr(S3Response, name, metered)


def _hook_schedules() -> None:
    from genjobs_local.schedules import Schedule, Scheduler

    fire = Scheduler.fire

    def metered_fire(self: Scheduler, schedule: Schedule, at: float | None = None) -> tuple[str, bool]:
        if _enabled:
            meter.trace_root("schedule")
        return fire(self, schedule, at)

    Scheduler.fire = metered_fire  # type: ignore[method-assign]


def _sqs_triggered(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    first = records[0] if isinstance(records, list) and records else None
    return isinstance(first, dict) and first.get("eventSource") == "aws:sqs"


SQS_UNIT_BYTES = 64 * 1024


def sqs_units(action: str, body: Any, response: Any) -> int:
    """Billed requests of one SQS request: each 64 KB of its messages (a batch's total) is one."""
    try:
        if action in {"SendMessage", "SendMessageBatch"}:
            params = json.loads(body) if body else {}
            entries = params.get("Entries") or [params]
        elif action == "ReceiveMessage":
            payload = response[-1] if isinstance(response, tuple) else response
            entries = json.loads(payload).get("Messages", []) if payload else []
        else:
            return 1
    except (TypeError, ValueError, AttributeError):  # a query-protocol body: count the request
        return 1
    size = sum(len(str(e.get("MessageBody") or e.get("Body") or "").encode()) for e in entries)
    size += sum(len(json.dumps(e.get("MessageAttributes") or {}).encode()) for e in entries)
    return max(1, math.ceil(size / SQS_UNIT_BYTES))


def _hook_dynamodb_capacity() -> None:
    from moto.dynamodb.responses import DynamoHandler

    from genjobs_local import moto_adjustments

    call_action = DynamoHandler.call_action

    def metered_call_action(self: DynamoHandler) -> Any:
        if not _enabled:
            return call_action(self)
        # Under the lock moto_adjustments already takes, so before/after see this request's change only.
        with moto_adjustments._dynamodb_lock:
            action = self._get_action()
            params = json.loads(self.body) if isinstance(self.body, str | bytes) and self.body else {}
            backend = self.dynamodb_backend
            before = _items_touched(backend, action, params)
            response = call_action(self)
            try:
                read, write = _units(backend, action, params, before, response)
            except Exception:  # noqa: BLE001 - metering must never break the request it measures
                read, write = 0.0, 0.0
            meter.capacity(read, write, _write_kind(action, params))
            return response

    DynamoHandler.call_action = metered_call_action  # type: ignore[method-assign]


def _hook_http_api() -> None:
    from genjobs_local.http_api import HttpApiFront

    handle = HttpApiFront.handle

    def metered_handle(self: HttpApiFront, request: Any) -> Any:
        if _enabled:
            parts = request.raw_path.strip("/").split("/")
            meter.api(parts[1] if len(parts) > 1 else parts[0])
            meter.trace_root("api")
        return handle(self, request)

    HttpApiFront.handle = metered_handle  # type: ignore[method-assign]


# ----------------------------------------------------------------------------- capacity units
_WRITES = {"PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}


def _write_ops(action: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(table, key-or-item, transactional) of every item a write request touches."""
    if action in _WRITES:
        return [(params["TableName"], params[_WRITES[action]], False)]
    if action == "TransactWriteItems":
        ops = []
        for entry in params.get("TransactItems", []):
            op = next(iter(entry.values()))
            ops.append((op["TableName"], op.get("Key") or op["Item"], True))
        return ops
    if action == "BatchWriteItem":
        return [
            (table, r.get("PutRequest", {}).get("Item") or r["DeleteRequest"]["Key"], False)
            for table, requests in params.get("RequestItems", {}).items()
            for r in requests
        ]
    return []


def _write_kind(action: str, params: dict[str, Any]) -> str:
    """Names a write request "Action[kinds]": each written item's kind is its sort key's prefix (TASK,
    JOB, EVENT...), or its table's name for a table without one (the idempotency records)."""
    kinds = set()
    for table, item, _ in _write_ops(action, params):
        sort_key = item.get("sk", {}).get("S")
        kinds.add(sort_key.split("#")[0] if sort_key else table.rsplit("-", 1)[-1])
    return f"{action}[{','.join(sorted(kinds))}]"


def _key_of(table: Any, item: dict[str, Any]) -> dict[str, Any]:
    return {a: item[a] for a in (table.hash_key_attr, table.range_key_attr) if a and a in item}


def _current(backend: Any, table_name: str, key_or_item: dict[str, Any]) -> dict[str, Any] | None:
    table = backend.get_table(table_name)
    found = backend.get_item(table_name, _key_of(table, key_or_item))
    return found.to_json()["Attributes"] if found is not None else None


def _items_touched(backend: Any, action: str, params: dict[str, Any]) -> list[dict[str, Any] | None]:
    try:
        return [_current(backend, t, k) for t, k, _ in _write_ops(action, params)]
    except Exception:  # noqa: BLE001 - an invalid request fails in moto itself; nothing to meter
        return []


def _projected(index: Any, table: Any, item: dict[str, Any]) -> dict[str, Any]:
    """What of an item an index keeps: every attribute (ALL), or its keys, the table's keys and
    any NonKeyAttributes (KEYS_ONLY, INCLUDE)."""
    kind = index.projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return item
    kept = {*index.schema_key_attrs, *_key_of(table, item)}
    if kind == "INCLUDE":
        kept |= set(index.projection.get("NonKeyAttributes", []))
    return {k: v for k, v in item.items() if k in kept}


def _gsi_writes(table: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    """Index writes by AWS's rules: an item entering or leaving an index is one write, one whose index
    key changes is two (delete and put), one whose projected attributes change is one, and an update
    that changes nothing the index keeps writes nothing to it."""
    units = 0
    for index in getattr(table, "global_indexes", []):
        keys = index.schema_key_attrs
        had = before is not None and all(k in before for k in keys)
        has = after is not None and all(k in after for k in keys)
        if not had and not has:
            continue
        old = _projected(index, table, before) if had and before is not None else None
        new = _projected(index, table, after) if has and after is not None else None
        if old is not None and new is not None:
            if any(old[k] != new[k] for k in keys):
                units += write_units(item_size(old)) + write_units(item_size(new))
            elif old != new:
                units += write_units(item_size(new))
            continue
        units += write_units(item_size(new if new is not None else old))
    return units


def _units(
    backend: Any, action: str, params: dict[str, Any], before: list[dict[str, Any] | None], response: Any
) -> tuple[float, float]:
    body = response[2] if isinstance(response, tuple) and len(response) == 3 else "{}"
    result = json.loads(body) if body else {}
    consistent = bool(params.get("ConsistentRead"))
    if action == "GetItem":
        return read_units(item_size(result.get("Item")), consistent), 0.0
    if action in {"Query", "Scan"}:
        sizes = sum(item_size(i) for i in result.get("Items", []))
        count, scanned = result.get("Count", 0), result.get("ScannedCount", 0)
        if count and scanned > count:  # filtered out items were read too: scale by what was scanned
            sizes = sizes * scanned // count
        return read_units(sizes, consistent), 0.0
    if action == "BatchGetItem":
        items = [i for items in result.get("Responses", {}).values() for i in items]
        return sum(read_units(item_size(i), consistent) for i in items), 0.0
    if action == "TransactGetItems":
        return sum(2 * read_units(item_size(r.get("Item")), True) for r in result.get("Responses", [])), 0.0
    write = 0.0
    for (table_name, key, transactional), old in zip(_write_ops(action, params), before, strict=False):
        table = backend.get_table(table_name)
        new = _current(backend, table_name, key)
        size = max(item_size(old), item_size(new))
        write += write_units(size) * (2 if transactional else 1) + _gsi_writes(table, old, new)
    return 0.0, write
