"""The console's files and the local-only sign-in, as the local stack's root serves them (no stack)."""

from __future__ import annotations

import json

import pytest

from genjobs_local.console import ConsoleSite
from genjobs_local.http_api import Request, Response


def site() -> ConsoleSite:
    return ConsoleSite(api_path="/local", mint=lambda user, admin: f"token-of-{user}-{admin}")


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
    assert ("content-type", "text/javascript") in served("GET", "/js/app.js").headers


def test_the_console_reads_where_the_api_is_and_how_to_sign_in() -> None:
    assert json.loads(served("GET", "/config.json").body) == {
        "apiUrl": "/local",
        "liveUrl": "",
        "signIn": "local",
    }


def test_the_console_reads_where_the_live_channel_is_when_the_stack_has_one() -> None:
    site = ConsoleSite(api_path="/local", mint=lambda u, a: "t", live_url=lambda: "ws://127.0.0.1:1/live")
    answer = site.handle(request("GET", "/config.json"))
    assert answer is not None
    config = json.loads(answer.body)
    assert config["liveUrl"] == "ws://127.0.0.1:1/live"


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/js/../../template.yaml", "/missing.js", "/js"])
def test_nothing_outside_the_console_folder_nor_a_missing_file_is_served(path: str) -> None:
    assert site().handle(request("GET", path)) is None


def test_a_token_is_minted_for_a_user_name_and_operators_only_when_asked() -> None:
    user = json.loads(served("POST", "/_local/token", b'{"user": "alice"}').body)
    admin = json.loads(served("POST", "/_local/token", b'{"user": "ops", "admin": true}').body)
    assert user == {"token": "token-of-alice-False", "user": "alice", "admin": False}
    assert admin["token"] == "token-of-ops-True"


@pytest.mark.parametrize("body", [b"", b"not json", b'{"user": ""}', b'{"user": "a b"}', b'{"user": "/x"}'])
def test_a_token_request_without_a_valid_user_name_is_refused(body: bytes) -> None:
    assert served("POST", "/_local/token", body).status == 400
    assert served("GET", "/_local/token").status == 405
