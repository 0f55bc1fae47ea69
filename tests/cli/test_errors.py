"""Every API failure becomes a clear message and an exit code scripts can rely on."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from genjobs_cli.client import Api, ApiError, ExitCode, exit_code_for_status
from genjobs_cli.main import main
from genjobs_cli.render import problem_message

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, 7),
        (401, 6),
        (402, 5),
        (403, 6),
        (404, 3),
        (409, 4),
        (413, 7),
        (422, 7),
        (405, 2),
        (429, 2),
        (500, 8),
        (502, 8),
        (503, 8),
    ],
)
def test_http_status_maps_to_the_documented_exit_code(status: int, code: int) -> None:
    assert exit_code_for_status(status) == code


def test_no_http_answer_at_all_is_a_server_error() -> None:
    assert ApiError(None, "Cannot reach the API").exit_code == ExitCode.SERVER


def _response(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    response.reason = {404: "Not Found", 401: "Unauthorized", 502: "Bad Gateway"}.get(status, "")
    return response


def test_a_problem_document_gives_its_title_detail_and_field_errors() -> None:
    # GIVEN an RFC 9457 problem with two field errors
    problem = {
        "type": "about:blank",
        "title": "Invalid request",
        "status": 422,
        "detail": "count: must be >= 1; model: unknown",
        "errors": [{"field": "count", "reason": "must be >= 1"}, {"field": "model", "reason": "unknown"}],
    }
    # WHEN it is read
    error = ApiError.from_response(_response(422, json.dumps(problem).encode(), "application/problem+json"))
    # THEN the message names the status, title, detail and each field
    assert error.exit_code == ExitCode.VALIDATION
    assert problem_message(error).splitlines() == [
        "error: 422 Invalid request: count: must be >= 1; model: unknown",
        "  - count: must be >= 1",
        "  - model: unknown",
    ]


def test_api_gateways_own_message_body_is_the_title() -> None:
    # GIVEN HTTP API's authorizer answer (not a problem document)
    error = ApiError.from_response(_response(401, b'{"message": "Unauthorized"}'))
    # THEN its message is shown and the exit code is auth
    assert (error.title, error.exit_code) == ("Unauthorized", ExitCode.AUTH)
    assert problem_message(error) == "error: 401 Unauthorized"


def test_a_body_that_is_not_json_is_shown_as_text() -> None:
    error = ApiError.from_response(_response(502, b"<html>upstream died</html>", "text/html"))
    assert (error.title, error.detail, error.exit_code) == ("Bad Gateway", "<html>upstream died</html>", 8)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_api_raises_a_server_error_naming_the_url() -> None:
    api = Api(f"http://127.0.0.1:{_closed_port()}", "t")
    with pytest.raises(ApiError) as raised:
        api.credits()
    assert raised.value.exit_code == ExitCode.SERVER
    assert "/credits" in raised.value.detail


def test_main_exits_8_with_a_message_when_the_api_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an API URL nothing listens on
    # WHEN a command runs against it
    code = main(["--api-url", f"http://127.0.0.1:{_closed_port()}", "--token", "t", "credits"])
    # THEN it exits 8 and says it cannot reach the API
    assert code == 8
    assert "error: Cannot reach the API" in capsys.readouterr().err
