"""The local HTTP API: routes, JWT authorizer and payload v2.0 events as API Gateway makes them."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from genjobs_local import LocalStack
from genjobs_local.tokens import Jwk


def _echo(event: Any, context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_request_becomes_a_v2_event(stack: LocalStack, fake: Any) -> None:
    # GIVEN an API function that echoes its event
    fake("ApiFunction", _echo)

    # WHEN a client calls a route with a path parameter, a repeated query parameter and cookies
    response = requests.post(
        f"{stack.api_url}/jobs/j-42/cancel?reason=late&reason=again&empty=",
        headers=_bearer(stack.mint_token("alice", admin=True)) | {"Cookie": "a=1; b=2", "X-Trace": "t1"},
        json={"why": "test"},
        timeout=10,
    )

    # THEN the function saw API Gateway's payload v2.0
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /jobs/{jobId}/cancel"
    assert event["rawPath"] == "/local/jobs/j-42/cancel"
    assert event["rawQueryString"] == "reason=late&reason=again&empty="
    assert event["queryStringParameters"] == {"reason": "late,again", "empty": ""}
    assert event["pathParameters"] == {"jobId": "j-42"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-trace"] == "t1"
    assert "cookie" not in event["headers"]
    assert json.loads(event["body"]) == {"why": "test"}
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/local/jobs/j-42/cancel",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": event["headers"]["user-agent"],
    }
    assert context["routeKey"] == "POST /jobs/{jobId}/cancel"
    assert context["stage"] == "local"
    assert context["apiId"] == stack.resource("HttpApi")
    assert context["accountId"] == "123456789012"
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60
    claims = context["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["cognito:groups"] == "[genjobs-admin]"
    assert claims["exp"].isdigit()
    assert context["authorizer"]["jwt"]["scopes"] is None


def test_binary_body_is_base64_encoded(stack: LocalStack, fake: Any) -> None:
    # GIVEN an echoing API function
    fake("ApiFunction", _echo)

    # WHEN a binary body is posted
    body = bytes(range(256))
    response = requests.post(
        f"{stack.api_url}/devices",
        headers=_bearer(stack.mint_token("alice")) | {"Content-Type": "application/octet-stream"},
        data=body,
        timeout=10,
    )

    # THEN the event carries it base64-encoded
    event = response.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def _token_claims(stack: LocalStack, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "mallory", "iss": stack.issuer, "aud": "genjobs-local", "iat": now, "exp": now + 600}
    return claims | overrides


def _signed(stack: LocalStack, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None) -> str:
    return jwt.encode(claims, key or stack.jwk.key, algorithm="RS256", headers={"kid": stack.jwk.kid})


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda s: {}, id="missing"),
        pytest.param(lambda s: _bearer(s.mint_token("alice", ttl_seconds=-5)), id="expired"),
        pytest.param(
            lambda s: _bearer(_signed(s, _token_claims(s, iss="https://evil.example"))), id="wrong-iss"
        ),
        pytest.param(lambda s: _bearer(_signed(s, _token_claims(s, aud="another-app"))), id="wrong-aud"),
        pytest.param(
            lambda s: _bearer(_signed(s, _token_claims(s, nbf=int(time.time()) + 600))), id="not-yet-valid"
        ),
        pytest.param(
            lambda s: _bearer(
                _signed(s, _token_claims(s), rsa.generate_private_key(public_exponent=65537, key_size=2048))
            ),
            id="forged",
        ),
        pytest.param(lambda s: _bearer("not.a.jwt"), id="garbage"),
    ],
)
def test_bad_tokens_get_401_without_calling_the_function(stack: LocalStack, fake: Any, headers: Any) -> None:
    # GIVEN an API function that records calls
    api = fake("ApiFunction", _echo)

    # WHEN a protected route is called with a bad or missing token
    response = requests.get(f"{stack.api_url}/credits", headers=headers(stack), timeout=10)

    # THEN HTTP API answers 401 itself
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert api.calls == []


def test_routes_without_authorizer_need_no_token(stack: LocalStack, fake: Any) -> None:
    # GIVEN fake API and webhook functions
    fake("ApiFunction", _echo)
    webhook = fake("WebhookFunction", _echo)

    # WHEN the NONE-auth routes are called without a token
    document = requests.get(f"{stack.api_url}/openapi.json", timeout=10)
    hook = requests.post(f"{stack.api_url}/webhooks/simulator", data=b'{"id": "p1"}', timeout=10)

    # THEN they reach their functions, with no authorizer context
    assert document.status_code == 200
    assert "authorizer" not in document.json()["requestContext"]
    assert hook.status_code == 200
    assert webhook.calls[0]["pathParameters"] == {"provider": "simulator"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/local/nowhere"), ("PUT", "/local/jobs"), ("GET", "/jobs"), ("GET", "/other-stage/jobs")],
)
def test_unknown_routes_are_404(stack: LocalStack, method: str, path: str) -> None:
    # WHEN an undeclared route (or one outside the stage) is called
    response = requests.request(
        method, f"http://127.0.0.1:{stack.api_url.split(':')[2].split('/')[0]}{path}", timeout=10
    )

    # THEN API Gateway's 404
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_payload_over_10_mb_is_413(stack: LocalStack, fake: Any) -> None:
    # GIVEN an API function that records calls
    api = fake("ApiFunction", _echo)

    # WHEN a body over HTTP API's 10 MB limit is posted
    response = requests.post(
        f"{stack.api_url}/jobs",
        headers=_bearer(stack.mint_token("alice")),
        data=b"x" * (10 * 1024 * 1024 + 1),
        timeout=30,
    )

    # THEN 413, and the function never ran
    assert response.status_code == 413
    assert api.calls == []


@pytest.mark.parametrize(
    ("result", "status", "body", "content_type"),
    [
        pytest.param({"ok": True}, 200, b'{"ok": true}', "application/json", id="dict-without-statusCode"),
        pytest.param("plain text", 200, b"plain text", "application/json", id="string"),
        pytest.param(
            {"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "body": "made"},
            201,
            b"made",
            "text/plain",
            id="full-response",
        ),
        pytest.param(
            {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True},
            200,
            b"\x00\x01",
            None,
            id="base64-body",
        ),
    ],
)
def test_function_results_map_to_http_responses(
    stack: LocalStack, fake: Any, result: Any, status: int, body: bytes, content_type: str | None
) -> None:
    # GIVEN an API function returning `result`
    fake("ApiFunction", lambda event, context: result)

    # WHEN it is called over HTTP
    response = requests.get(
        f"{stack.api_url}/credits", headers=_bearer(stack.mint_token("alice")), timeout=10
    )

    # THEN the response follows payload format 2.0
    assert response.status_code == status
    assert response.content == body
    assert response.headers.get("content-type") == content_type
    assert response.headers["apigw-requestid"]


def test_cookies_of_the_result_become_set_cookie_headers(stack: LocalStack, fake: Any) -> None:
    # GIVEN a function setting two cookies
    fake("ApiFunction", lambda e, c: {"statusCode": 204, "cookies": ["a=1; Path=/", "b=2"], "body": ""})

    # WHEN called
    response = requests.get(
        f"{stack.api_url}/credits", headers=_bearer(stack.mint_token("alice")), timeout=10
    )

    # THEN each is its own Set-Cookie header
    assert response.status_code == 204
    assert response.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]


def test_function_error_is_a_500(stack: LocalStack, fake: Any) -> None:
    # GIVEN a crashing API function
    def crash(event: Any, context: Any) -> None:
        raise KeyError("boom")

    fake("ApiFunction", crash)

    # WHEN called
    response = requests.get(
        f"{stack.api_url}/credits", headers=_bearer(stack.mint_token("alice")), timeout=10
    )

    # THEN API Gateway's 500
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_jwks_is_served_and_tokens_from_another_process_are_accepted(stack: LocalStack, fake: Any) -> None:
    # GIVEN the stack's JWKS and its description in the state dir, as `genjobs-local start` writes it
    fake("ApiFunction", _echo)
    jwks = requests.get(f"{stack.issuer}/.well-known/jwks.json", timeout=10).json()
    (stack.state_dir / "stack.json").write_text(json.dumps(stack.describe()))

    # WHEN another process mints a token with `genjobs-local token`
    minted = subprocess.run(
        [
            sys.executable,
            "-m",
            "genjobs_local.cli",
            "--state-dir",
            str(stack.state_dir),
            "token",
            "--user",
            "bob",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip()

    # THEN it is signed by the published key, and the running stack accepts it
    assert (
        jwt.get_unverified_header(minted)["kid"]
        == jwks["keys"][0]["kid"]
        == Jwk.from_state_dir(stack.state_dir).kid
    )
    response = requests.get(f"{stack.api_url}/credits", headers=_bearer(minted), timeout=10)
    assert response.json()["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "bob"
