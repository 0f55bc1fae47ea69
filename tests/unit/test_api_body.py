"""What the API checks of a body before parsing it: media type, size (of the bytes, not of their
base64 encoding) and UTF-8."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from genjobs import deps as deps_module
from genjobs.deps import Deps
from genjobs.models.problems import Problem
from genjobs.routes import guards
from genjobs.settings import Settings

LIMIT = 1_000


@pytest.fixture(autouse=True)
def settings() -> Iterator[None]:
    deps_module.override(
        Deps(
            settings=Settings.model_validate(
                {
                    "STAGE": "test",
                    "TABLE_NAME": "jobs",
                    "IDEMPOTENCY_TABLE_NAME": "idempotency",
                    "OUTPUT_BUCKET": "outputs",
                    "SUBMIT_QUEUE_URL": "https://sqs.invalid/submit",
                    "JOB_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:events",
                    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:none",
                    "MAX_BODY_BYTES": str(LIMIT),
                }
            )
        )
    )
    yield
    deps_module.override(None)


def event(body: bytes, *, encoded: bool) -> dict[str, Any]:
    return {
        "headers": {"content-type": "application/json"},
        "body": base64.b64encode(body).decode() if encoded else body.decode(),
        "isBase64Encoded": encoded,
    }


def unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The guard's refusal as the API answers it, or None."""
    problem: Problem | None = guards.unreadable_body(event, deps_module.deps().settings.max_body_bytes)
    return None if problem is None else {"statusCode": problem.status, "body": problem.body()}


def status(result: dict[str, Any] | None) -> int | None:
    return None if result is None else int(result["statusCode"])


def test_a_base64_body_is_measured_by_its_bytes_not_its_encoding() -> None:
    # GIVEN a JSON body just under the limit, whose base64 encoding is a third over it
    body = json.dumps({"prompt": "x" * (LIMIT - 20)}).encode()
    assert len(body) <= LIMIT < len(base64.b64encode(body))
    # THEN it passes as base64 as it does as text
    assert status(unreadable_body(event(body, encoded=False))) is None
    assert status(unreadable_body(event(body, encoded=True))) is None


def test_a_body_over_the_limit_is_413_either_way() -> None:
    body = json.dumps({"prompt": "x" * LIMIT}).encode()
    for encoded in (False, True):
        result = unreadable_body(event(body, encoded=encoded))
        assert status(result) == 413
        assert result is not None
        assert json.loads(result["body"])["errors"][0]["field"] == "body"


def test_a_base64_body_that_is_not_utf8_is_400() -> None:
    assert status(unreadable_body(event(b'{"a": "\xff"}', encoded=True))) == 400
