"""The in-process Lambda runtime refuses what Lambda refuses (no stack needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genjobs_local.lambda_runtime import MAX_RESPONSE_BYTES, FunctionError, FunctionSpec, LambdaRunner

SPEC = FunctionSpec(
    logical_id="EchoFunction",
    name="echo",
    arn="arn:aws:lambda:us-east-1:123456789012:function:echo",
    handler="echo.handler",
    code_dir=Path(__file__).parent,
    memory_mb=128,
    timeout_s=3,
    log_group="/aws/lambda/echo",
)


def runner_returning(size: int) -> LambdaRunner:
    runner = LambdaRunner([SPEC], concurrency=1)

    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"body": "x" * size}

    runner.override("echo", handler)
    return runner


def test_a_response_over_six_megabytes_is_lambdas_error_not_a_response() -> None:
    overhead = len(json.dumps({"body": ""}))
    # GIVEN a function whose response is one byte over Lambda's limit, WHEN invoked
    with pytest.raises(FunctionError) as refused:
        runner_returning(MAX_RESPONSE_BYTES - overhead + 1).invoke("echo", {})
    # THEN the caller gets Lambda's error, as API Gateway or Step Functions would
    assert refused.value.error_type == "Function.ResponseSizeTooLarge"
    assert "6291556 bytes" in refused.value.payload["errorMessage"]
    # AND a response right at the limit is returned
    assert len(runner_returning(MAX_RESPONSE_BYTES - overhead).invoke("echo", {})["body"]) > 6_000_000
