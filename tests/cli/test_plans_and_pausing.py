"""`genjobs pause`, `resume`, `plan`, `plans`, `user` and `set-plan` against a fake HTTP API: the
request each sends, what the user reads back, and the API's refusals as messages and exit codes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from genjobs_cli.main import main

pytestmark = pytest.mark.unit

ACCOUNT = {
    "userId": "alice",
    "plan": {"name": "pro", "maxInFlight": 400, "priority": 20, "assigned": True},
    "inFlight": 3,
    "credits": {"available": 49, "reserved": 0, "charged": 1, "granted": 50},
}
PLANS = {
    "defaultPlan": "free",
    "plans": [
        {"name": "pro", "maxInFlight": 400, "priority": 20},
        {"name": "free", "maxInFlight": 20, "priority": 0},
    ],
    "providers": [
        {"provider": "replicate", "limits": {"concurrency": None, "ratePerMinute": 600}, "models": []},
        {
            "provider": "fal",
            "limits": {"concurrency": 10, "ratePerMinute": None},
            "models": [{"model": "fal-ai/flux/dev", "limits": {"concurrency": 4, "ratePerMinute": None}}],
        },
    ],
}
CONFLICT = {
    "type": "about:blank",
    "title": "Conflict",
    "status": 409,
    "detail": "job j1 has ended (COMPLETED): there is nothing to pause",
    "errors": [],
}


class FakeApi:
    """Answers (method, path) with a canned (status, body) and records every request it got."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                api.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "body": body,
                        "auth": self.headers["Authorization"],
                    }
                )
                status, answer = api.answers.get((self.command, self.path), (404, {"title": "Not found"}))
                payload = json.dumps(answer).encode()
                self.send_response(status)
                kind = "application/problem+json" if status >= 400 else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def genjobs(api: FakeApi, *argv: str) -> int:
    return main(["--api-url", api.url, "--token", "t0k", *argv])


def test_pause_posts_to_the_job_and_prints_its_status_after(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a job the API pauses
    api.answers[("POST", "/jobs/j1/pause")] = (200, {"jobId": "j1", "status": "PAUSED"})

    # WHEN the user pauses it
    code = genjobs(api, "pause", "j1")

    # THEN the pause was asked with their token, and they read the job's status and how to continue
    assert code == 0
    assert api.requests == [{"method": "POST", "path": "/jobs/j1/pause", "body": None, "auth": "Bearer t0k"}]
    assert capsys.readouterr().out == "job j1 PAUSED; continue it: genjobs resume j1\n"


def test_resume_posts_to_the_job_and_prints_its_status_after(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.answers[("POST", "/jobs/j1/resume")] = (200, {"jobId": "j1", "status": "PROCESSING"})
    assert genjobs(api, "resume", "j1") == 0
    assert [r["path"] for r in api.requests] == ["/jobs/j1/resume"]
    assert capsys.readouterr().out == "job j1 PROCESSING; follow it: genjobs watch j1\n"


@pytest.mark.parametrize(("status", "body", "code"), [(409, CONFLICT, 4), (404, {"title": "Not found"}, 3)])
def test_pausing_a_job_that_ended_or_does_not_exist_exits_non_zero_with_the_apis_message(
    api: FakeApi, capsys: pytest.CaptureFixture[str], status: int, body: dict[str, Any], code: int
) -> None:
    # GIVEN an API that refuses the pause
    api.answers[("POST", "/jobs/j1/pause")] = (status, body)

    # WHEN the user pauses the job
    exit_code = genjobs(api, "pause", "j1")

    # THEN the exit code says why, the API's message is on stderr and nothing on stdout
    captured = capsys.readouterr()
    assert exit_code == code
    assert captured.out == ""
    assert captured.err.startswith(f"error: {status} {body['title']}")
    if status == 409:
        assert "job j1 has ended (COMPLETED)" in captured.err


def test_plan_shows_the_callers_plan_its_use_and_their_credits(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.answers[("GET", "/me")] = (200, ACCOUNT)
    assert genjobs(api, "plan") == 0
    assert capsys.readouterr().out.splitlines() == [
        "user       alice",
        "plan       pro (assigned), priority 20",
        "in flight  3 of 400 tasks at providers",
        "credits    available 49  reserved 0  charged 1  granted 50",
    ]


def test_plans_lists_the_plans_with_the_default_and_the_provider_limits(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.answers[("GET", "/plans")] = (200, PLANS)
    assert genjobs(api, "plans") == 0
    assert capsys.readouterr().out.splitlines() == [
        "PLAN            MAX IN FLIGHT  PRIORITY",
        "pro             400            20",
        "free (default)  20             0",
        "",
        "PROVIDER / MODEL     CONCURRENCY  PER MINUTE",
        "replicate            -            600",
        "fal                  10           -",
        "fal/fal-ai/flux/dev  4            -",
    ]


def test_set_plan_puts_the_plan_on_the_user_and_prints_their_account(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.answers[("PUT", "/admin/users/alice/plan")] = (200, ACCOUNT)
    assert genjobs(api, "set-plan", "alice", "pro", "--json") == 0
    assert api.requests[0]["body"] == {"plan": "pro"}
    assert json.loads(capsys.readouterr().out) == ACCOUNT


def test_set_plan_to_a_plan_not_configured_exits_7_naming_the_field(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the API's refusal of a plan it does not have
    refusal = {
        "title": "Bad request",
        "status": 400,
        "detail": "plan: 'gold' is not a configured plan; the plans are free, pro",
        "errors": [{"field": "plan", "reason": "'gold' is not a configured plan; the plans are free, pro"}],
    }
    api.answers[("PUT", "/admin/users/alice/plan")] = (400, refusal)

    # WHEN an operator assigns it
    code = genjobs(api, "set-plan", "alice", "gold")

    # THEN the exit code is validation's and the message names the field and the plans
    assert code == 7
    err = capsys.readouterr().err
    assert "  - plan: 'gold' is not a configured plan; the plans are free, pro" in err


def test_user_reads_a_users_account(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.answers[("GET", "/admin/users/alice")] = (200, ACCOUNT)
    assert genjobs(api, "user", "alice") == 0
    assert "plan       pro (assigned), priority 20" in capsys.readouterr().out
