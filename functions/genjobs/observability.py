"""One Logger, Tracer and Metrics for every function (service name and namespace from the environment)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def bind(**keys: object) -> None:
    """Puts `keys` (jobId, taskIndex) on every later line of this invocation and drops the previous
    invocation's. Kept per thread, so invocations running concurrently in one process (the local
    runtime's pollers and state machine) never label each other's lines."""
    logger.thread_safe_clear_keys()
    if keys:
        logger.thread_safe_append_keys(**keys)
