"""A create with an Idempotency-Key that is reused with another body, or is still being processed,
is answered with a problem (RFC 9457) through the API handler, like every refused request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genjobs.deps import Deps
from genjobs.handlers import api
from genjobs.logic import jobs


class Context:
    function_name = "ApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ApiFunction"
    memory_limit_in_mb = "256"
    aws_request_id = "request"
    log_group_name = "/aws/lambda/ApiFunction"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def create_event(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /jobs",
        "rawPath": "/jobs",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "idempotency-key": key},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": "POST",
                "path": "/jobs",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": "r",
            "routeKey": "POST /jobs",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
            "authorizer": {"jwt": {"claims": {"sub": "user-1"}, "scopes": None}},
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def job(seed: int) -> dict[str, Any]:
    return {
        "provider": "simulator",
        "model": "sim-image",
        "input": {"prompt": "p"},
        "tasks": [{"seed": seed}],
    }


@pytest.fixture
def granted(deps: Deps) -> Deps:
    deps.credits.grant("user-1", 10, "g1", None)
    return deps


def test_a_key_reused_with_another_body_is_a_422_problem_naming_the_key(granted: Deps) -> None:
    # GIVEN a job created with a key
    first = api.handler(create_event(job(1), "k-1"), Context())
    assert first["statusCode"] == 202, first
    # WHEN the key comes again with another body
    answer = api.handler(create_event(job(2), "k-1"), Context())
    # THEN it is refused as before, as a problem naming the header
    assert answer["statusCode"] == 422
    assert answer["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(answer["body"]) == {
        "type": "about:blank",
        "title": "Idempotency-Key reused",
        "status": 422,
        "detail": "this Idempotency-Key was used before with a different request body",
        "errors": [{"field": "Idempotency-Key", "reason": "already used with a different body"}],
    }


def test_a_key_still_being_processed_is_a_409_problem(granted: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a create that, while it is being processed, sees the same request come in again
    answers: list[dict[str, Any]] = []
    create_job = jobs.create_job

    def create_and_retry(*args: Any) -> Any:
        answers.append(api.handler(create_event(job(1), "k-2"), Context()))
        return create_job(*args)

    monkeypatch.setattr(jobs, "create_job", create_and_retry)
    # WHEN the first one completes
    first = api.handler(create_event(job(1), "k-2"), Context())
    # THEN the first created the job and the one that came in meanwhile was told to wait
    assert first["statusCode"] == 202, first
    assert [a["statusCode"] for a in answers] == [409]
    assert json.loads(answers[0]["body"]) == {
        "type": "about:blank",
        "title": "Request in progress",
        "status": 409,
        "detail": "a request with this Idempotency-Key is still being processed",
    }
