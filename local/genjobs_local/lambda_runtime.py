"""Run the template's Lambda handlers in this process, the way the Python Lambda runtime calls them."""

from __future__ import annotations

import collections
import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genjobs_local import environments, iam

Handler = Callable[[Any, Any], Any]

# Invocations running at once in this process (all functions together). Lambda gives each its own
# execution environment; here they share one interpreter (one GIL) on the machine's cores, and moto
# serialises DynamoDB behind one lock, so past a handful more threads only add switching. Unbounded,
# 200 concurrent jobs (tests/e2e/test_load.py) ran about 100 invocations at once, each took 4-11 s
# on average, and the task heartbeats and visibility timeouts (scaled by TIME_SCALE) ran out while
# submissions waited: three tasks in four failed. With 8 (and the SQS poller and moto fixes made with
# it) the same run ended in half the time with no such failure; 4 and 16 were slower on 2 cores.
# Over the limit an invocation waits for a slot, first come first served, as a throttled caller
# would retry: the stack gets slower under load, it does not fail.
# GENJOBS_LOCAL_LAMBDA_CONCURRENCY or LocalStack.start(lambda_concurrency=) sets it.
DEFAULT_CONCURRENCY = 8
# The largest response a synchronous invocation may return (6 MB; Lambda's own figure in its error).
MAX_RESPONSE_BYTES = 6_291_556


def default_concurrency() -> int:
    return int(os.environ.get("GENJOBS_LOCAL_LAMBDA_CONCURRENCY", DEFAULT_CONCURRENCY))


class ConcurrencyLimit:
    """At most `limit` invocations at once; the others wait for a slot, first come first served.

    A thread holding a slot may run nested invocations in the same thread without a second slot.
    An invocation that waits synchronously for another one run by a different thread (a handler
    calling lambda:Invoke) could deadlock when every slot is taken that way: the functions it calls
    (the app's own, see app_functions) run outside the limit (FunctionSpec.limited).
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a concurrency limit is at least 1, not {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._line: collections.deque[threading.Event] = collections.deque()
        self._in_use = 0
        self._held = threading.local()
        self.peak = 0  # most slots in use at once (for tests and diagnostics)
        self.waited = 0  # acquisitions that had to wait in line

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def waiting(self) -> int:
        return len(self._line)

    def acquire(self, timeout: float | None = None, cancel: threading.Event | None = None) -> bool:
        """Takes a slot, waiting in line for at most `timeout` seconds or until `cancel` is set (a
        caller that gives up loses its place in line); False if no slot came."""
        with self._lock:
            if self._in_use < self.limit and not self._line:
                self._in_use += 1
                self.peak = max(self.peak, self._in_use)
                return True
            turn = threading.Event()
            self._line.append(turn)
            self.waited += 1
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            step = remaining if cancel is None else min(0.1, 0.1 if remaining is None else remaining)
            if turn.wait(step):
                return True
            if (cancel is not None and cancel.is_set()) or (remaining is not None and remaining <= 0):
                break
        with self._lock:
            if turn.is_set():  # handed over as the wait ended
                return True
            self._line.remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            if self._in_use <= 0:
                raise RuntimeError("released a slot that was not taken")
            if self._line:
                self._line.popleft().set()  # the slot goes to the first in line, still in use
            else:
                self._in_use -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Runs the block in a slot: takes one unless this thread holds one already."""
        if getattr(self._held, "depth", 0):
            with self.held():
                yield
            return
        self.acquire()
        try:
            with self.held():
                yield
        finally:
            self.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Marks this thread as holding a slot (taken with `acquire`) for the block: invocations in
        it take no other. The caller still releases the slot."""
        self._held.depth = getattr(self._held, "depth", 0) + 1
        try:
            yield
        finally:
            self._held.depth -= 1


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    memory_mb: int
    timeout_s: int
    log_group: str
    role_arn: str | None = None  # its calls are signed with this role's credentials
    limited: bool = True  # waits for a slot of the ConcurrencyLimit


class LambdaContext:
    """The attributes of awslambdaric's context object (memory_limit_in_mb is a str there too)."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = str(spec.memory_mb)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = spec.log_group
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        # Lambda's timeout is not enforced in-process, but handlers may budget their work on it.
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """A function returned Lambda's error payload (raised by `LambdaRunner.invoke`)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload
        self.error_type = str(payload.get("errorType"))


class LambdaRunner:
    def __init__(self, functions: list[FunctionSpec], concurrency: int | None = None) -> None:
        self.limit = ConcurrencyLimit(concurrency or default_concurrency())
        self.functions = {f.name: f for f in functions}
        self._aliases = {f.logical_id: f.name for f in functions} | {f.arn: f.name for f in functions}
        self._overrides: dict[str, Handler] = {}
        self._lock = threading.Lock()
        code_dirs = sorted({str(f.code_dir) for f in functions})
        for code_dir in code_dirs:
            if code_dir not in sys.path:
                sys.path.insert(0, code_dir)
        # A new stack is a new set of execution environments: its functions start cold, so no client,
        # cache or setting of an earlier stack in this process (pointing at its endpoints) survives.
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None) or ""
            if any(file.startswith(code_dir + "/") for code_dir in code_dirs):
                del sys.modules[name]

    def spec(self, function: str) -> FunctionSpec:
        """Find a function by name, logical id or ARN (also ARN:qualifier)."""
        name = self._aliases.get(function, function)
        if name not in self.functions and function.startswith("arn:"):
            name = function.split(":")[6]
        if name not in self.functions:
            raise KeyError(f"no function {function!r}; known: {sorted(self._aliases)}")
        return self.functions[name]

    def add(self, spec: FunctionSpec) -> None:
        """Runs one more function, deployed in moto after the stack started (a benchmark's own)."""
        with self._lock:
            self.functions[spec.name] = spec
            self._aliases |= {spec.logical_id: spec.name, spec.arn: spec.name}

    def override(self, function: str, handler: Handler | None) -> None:
        """Replace a function's code for tests (None restores the template's handler)."""
        name = self.spec(function).name
        with self._lock:
            if handler is None:
                self._overrides.pop(name, None)
            else:
                self._overrides[name] = handler

    def _handler(self, spec: FunctionSpec) -> Handler:
        override = self._overrides.get(spec.name)
        if override is not None:
            return override
        module_name, _, attribute = spec.handler.rpartition(".")
        # Imported once and kept, like a warm execution environment.
        handler: Handler = getattr(importlib.import_module(module_name), attribute)
        return handler

    def run(self, function: str, event: Any) -> tuple[str, bool]:
        """Invoke once; returns (payload JSON, errored) like the Invoke API's Payload/FunctionError.

        Waits for a concurrency slot first (see ConcurrencyLimit); a caller that took one already
        (an SQS poller, before receiving) runs it inside `limit.held()`."""
        spec = self.spec(function)
        if not spec.limited:
            return self._run(spec, event)
        with self.limit.slot():
            return self._run(spec, event)

    def _run(self, spec: FunctionSpec, event: Any) -> tuple[str, bool]:
        # The context is made once the invocation has its slot: its deadline counts from the start.
        context = LambdaContext(spec)
        try:
            with iam.acting_as(spec.role_arn), environments.running(spec.logical_id):
                result = self._handler(spec)(event, context)
        except Exception as error:  # noqa: BLE001 - any handler failure becomes Lambda's error payload
            frames = traceback.format_tb(error.__traceback__)
            payload = {
                # The class name is what Step Functions Retry/Catch match (e.g. "TimeoutError").
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "requestId": context.aws_request_id,
                "stackTrace": [line.rstrip("\n") for line in frames],
            }
            traceback.print_exception(error, file=sys.stderr)
            return json.dumps(payload), True
        try:
            response = json.dumps(result)
        except (TypeError, ValueError) as error:
            marshal_error = {
                "errorType": "Runtime.MarshalError",
                "errorMessage": f"Unable to marshal response: {error}",
            }
            return json.dumps(marshal_error | {"requestId": context.aws_request_id}), True
        if len(response.encode()) > MAX_RESPONSE_BYTES:
            # Lambda refuses to return it: the caller (API Gateway, Step Functions) sees a failure.
            too_large = {
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_BYTES} bytes).",
            }
            return json.dumps(too_large | {"requestId": context.aws_request_id}), True
        return response, False

    def invoke(self, function: str, event: Any) -> Any:
        """Call a function with an event and return its result; raises FunctionError on failure."""
        payload, errored = self.run(function, event)
        result = json.loads(payload)
        if errored:
            raise FunctionError(result)
        return result
