"""The console's files and the local-only sign-in, as the local stack's root serves them (no stack):
the files are the answers of the product's console function (run in-process behind the HTTP API
front, as the template routes it), config.json and the token endpoint the emulation's own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from genjobs.handlers import console as console_function
from genjobs_local.console import ConsoleSite
from genjobs_local.http_api import HttpApiFront, Request, Response, routes_from_openapi

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:genjobs-local-console"


@dataclass
class Context:
    function_name: str = "genjobs-local-console"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = FUNCTION_ARN
    aws_request_id: str = "request"


def console_front() -> HttpApiFront:
    """An API front with the template's two console routes (public), invoking the product's handler."""
    integration = {
        "uri": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations",
        "payloadFormatVersion": "2.0",
    }
    body = {
        "paths": {
            path: {"get": {"x-amazon-apigateway-integration": integration, "security": [{"NONE": []}]}}
            for path in ("/console", "/console/{proxy+}")
        }
    }

    def invoke(arn: str, event: Any) -> tuple[str, bool]:
        assert arn == FUNCTION_ARN
        return json.dumps(console_function.handler(event, Context())), False

    return HttpApiFront(
        api_id="localapi", stage="local", routes=routes_from_openapi(body, {}), invoke=invoke, extra_paths={}
    )


def site() -> ConsoleSite:
    front = console_front()
    return ConsoleSite(
        api_path="/local", mint=lambda user, admin: f"token-of-{user}-{admin}", forward=front.handle
    )


def request(method: str, path: str, body: bytes = b"") -> Request:
    return Request(method=method, raw_path=path, raw_query="", headers=[], body=body, source_ip="127.0.0.1")


def served(method: str, path: str, body: bytes = b"") -> Response:
    response = site().handle(request(method, path, body))
    assert response is not None, f"{method} {path} not served"
    return response


def test_the_root_serves_the_console_page_and_its_modules_with_their_types() -> None:
    page = served("GET", "/")
    assert page.status == 200
    assert b'<script type="module" src="js/app.js">' in page.body
    module = dict(served("GET", "/js/app.js").headers)
    assert module["content-type"].startswith("text/javascript")


def test_the_console_reads_where_the_api_is_and_how_to_sign_in() -> None:
    assert json.loads(served("GET", "/config.json").body) == {
        "apiUrl": "/local",
        "liveUrl": "",
        "signIn": "local",
    }


def test_the_console_reads_where_the_live_channel_is_when_the_stack_has_one() -> None:
    site = ConsoleSite(
        api_path="/local",
        mint=lambda u, a: "t",
        forward=console_front().handle,
        live_url=lambda: "ws://127.0.0.1:1/live",
    )
    answer = site.handle(request("GET", "/config.json"))
    assert answer is not None
    config = json.loads(answer.body)
    assert config["liveUrl"] == "ws://127.0.0.1:1/live"


@pytest.mark.parametrize(
    "path", ["/../pyproject.toml", "/js/../../template.yaml", "/%2e%2e/pyproject.toml", "/missing.js", "/js"]
)
def test_nothing_outside_the_console_folder_nor_a_missing_file_is_served(path: str) -> None:
    assert served("GET", path).status == 404


def test_a_token_is_minted_for_a_user_name_and_operators_only_when_asked() -> None:
    user = json.loads(served("POST", "/_local/token", b'{"user": "alice"}').body)
    admin = json.loads(served("POST", "/_local/token", b'{"user": "ops", "admin": true}').body)
    assert user == {"token": "token-of-alice-False", "user": "alice", "admin": False}
    assert admin["token"] == "token-of-ops-True"


@pytest.mark.parametrize("body", [b"", b"not json", b'{"user": ""}', b'{"user": "a b"}', b'{"user": "/x"}'])
def test_a_token_request_without_a_valid_user_name_is_refused(body: bytes) -> None:
    assert served("POST", "/_local/token", body).status == 400
    assert served("GET", "/_local/token").status == 405
