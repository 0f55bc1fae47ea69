"""Run the template's Lambda handlers in this process, the way the Python Lambda runtime calls them."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Handler = Callable[[Any, Any], Any]


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
    def __init__(self, functions: list[FunctionSpec]) -> None:
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
        """Invoke once; returns (payload JSON, errored) like the Invoke API's Payload/FunctionError."""
        spec = self.spec(function)
        context = LambdaContext(spec)
        try:
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
            return json.dumps(result), False
        except (TypeError, ValueError) as error:
            marshal_error = {
                "errorType": "Runtime.MarshalError",
                "errorMessage": f"Unable to marshal response: {error}",
            }
            return json.dumps(marshal_error | {"requestId": context.aws_request_id}), True

    def invoke(self, function: str, event: Any) -> Any:
        """Call a function with an event and return its result; raises FunctionError on failure."""
        payload, errored = self.run(function, event)
        result = json.loads(payload)
        if errored:
            raise FunctionError(result)
        return result
