"""CloudWatch Logs bytes as the functions write them, for the meter (genjobs_local.metering).

On Lambda, every line a function writes to stdout is one log event of its log group. Locally every
function runs in threads of one process, so the process's stdout is wrapped once: a write made while
an invocation runs in the thread (`invocation`, set by the meter around `LambdaRunner._run`) is
counted for that function, line by line (powertools' JSON lines, its EMF metric lines, anything
printed). The logging handlers made before the wrapping (powertools keeps the handler of its logger
for the life of the process) are pointed at the wrapper too.

What Lambda itself adds is not written by the code, so it is counted by rule (bytes assumed below):
its platform lines per invocation, and the runtime's error record when a handler raises (the local
runtime prints a Python traceback instead; that print is not counted).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from genjobs_local.environments import running_function

# CloudWatch Logs sizes an event as its UTF-8 message plus 26 bytes (PutLogEvents' own rule).
EVENT_OVERHEAD_BYTES = 26
# JSON log format: `platform.start` (time, type, requestId, version: about 120 bytes) and
# `platform.report` (requestId, durationMs, billedDurationMs, memorySizeMB, maxMemoryUsedMB, status,
# and with active tracing the X-Ray span and trace header: about 330 bytes). Cold starts add
# `platform.initStart`/`initReport` lines, left out as rare.
PLATFORM_LINE_BYTES = (120, 330)
# The runtime's record of an unhandled error, around the error payload (errorType, errorMessage,
# requestId, stackTrace): {"timestamp": "2026-01-01T00:00:00.000Z", "level": "ERROR", "message": ...,
# "requestId": "<36 chars>"}.
ERROR_RECORD_ENVELOPE_BYTES = 110


@contextmanager
def invocation(function: str) -> Iterator[None]:
    """Around an invocation: its last line is counted even without a final newline."""
    try:
        yield
    finally:
        _lines.flush(function)


def source_of(line: str) -> str:
    """What wrote a line: "metrics" (an EMF line), "LEVEL location" (a powertools JSON line), "text"."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return "text"
        if isinstance(record, dict):
            if "_aws" in record:
                return "metrics"
            if "location" in record:
                return f"{record.get('level', '?')} {record['location']}"
    return "text"


class _LineBuffers:
    """Text written per thread until a newline ends a line: print() writes a line in two calls."""

    def __init__(self) -> None:
        self._local = threading.local()
        self.record: Callable[[str, str], None] = lambda function, line: None

    def write(self, function: str, text: str) -> None:
        pending = getattr(self._local, "pending", "") + text
        *lines, self._local.pending = pending.split("\n")
        for line in lines:
            if line:
                self.record(function, line)

    def flush(self, function: str) -> None:
        pending = getattr(self._local, "pending", "")
        self._local.pending = ""
        if pending:
            self.record(function, pending)


_lines = _LineBuffers()


class MeteredStream:
    """Stands in for sys.stdout: writes go through unchanged, and are counted inside an invocation."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        # the invocation in this thread (environments.running, set by the local runtime around a handler)
        function = running_function()
        if function is not None:
            _lines.write(function, text)
        return self.inner.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def install(record: Callable[[str, str], None]) -> None:
    """Wraps sys.stdout (once) and points logging handlers that write to the old one at it."""
    _lines.record = record
    if not isinstance(sys.stdout, MeteredStream):
        sys.stdout = MeteredStream(sys.stdout)
    wrapped = sys.stdout
    assert isinstance(wrapped, MeteredStream)
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, logging.StreamHandler) and handler.stream is wrapped.inner:
                handler.setStream(wrapped)


def error_record_bytes(payload: str) -> int:
    """The runtime's log event for an invocation that raised (its error payload inside the record)."""
    return len(payload.encode()) + ERROR_RECORD_ENVELOPE_BYTES + EVENT_OVERHEAD_BYTES


# What the stack's log settings let through (template.yaml, read by `configure`): Lambda's platform
# lines are INFO records, dropped when the functions' SystemLogLevel is WARN or ERROR; the state
# machine's log group takes every failure event at level ERROR, only the execution's own at FATAL.
_levels = {"system": "INFO", "state_machine": "ERROR"}


def configure(template: dict[str, Any]) -> dict[str, str]:
    """Reads the functions' SystemLogLevel (Globals) and the state machine's logging Level."""
    function = template.get("Globals", {}).get("Function", {})
    _levels["system"] = str(function.get("LoggingConfig", {}).get("SystemLogLevel", "INFO")).upper()
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::StateMachine":
            logging_config = resource.get("Properties", {}).get("Logging", {})
            _levels["state_machine"] = str(logging_config.get("Level", "OFF")).upper()
    return dict(_levels)


def platform_lines() -> int:
    return len(PLATFORM_LINE_BYTES) if _levels["system"] in {"DEBUG", "INFO"} else 0


def platform_bytes() -> int:
    if not platform_lines():
        return 0
    return sum(PLATFORM_LINE_BYTES) + EVENT_OVERHEAD_BYTES * len(PLATFORM_LINE_BYTES)


# Step Functions logs at level ERROR only the failure events (with IncludeExecutionData false, no
# input or output): {"id", "type", "details": {error, cause, resource...}, "previous_event_id",
# "event_timestamp", "execution_arn"}; about 250 bytes around the details.
STATE_MACHINE_RECORD_BYTES = 250
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


def state_machine_record_bytes(event_type: str, details: Any) -> int:
    """Bytes the state machine's log group ingests for one history event (0 unless it is a failure)."""
    level = _levels["state_machine"]
    if level == "OFF" or (level != "ALL" and not event_type.endswith(_FAILURE_SUFFIXES)):
        return 0
    if level == "FATAL" and not event_type.startswith("Execution"):
        return 0
    kept: Any = details
    if isinstance(details, dict):
        kept = {
            k: {n: v for n, v in body.items() if n not in {"input", "output"}}
            if isinstance(body, dict)
            else body
            for k, body in details.items()
        }
    return len(json.dumps(kept, default=str).encode()) + STATE_MACHINE_RECORD_BYTES + EVENT_OVERHEAD_BYTES
