"""`genjobs pause`, `resume`, `plan`, `plans`, `user` and `set-plan` against a fake HTTP API: the
request each sends, what the user reads back, and the API's refusals as messages and exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genjobs_cli.main import main
from tests.providers.conftest import stub  # noqa: F401 - the scripted HTTP server fixture
from tests.providers.provider_test_servers import Reply, StubServer

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
            "limits": {"concurrency": 10, "ratePerMinute": None, "reserve": 2},
            "models": [
                {
                    "model": "fal-ai/flux/dev",
                    "limits": {"concurrency": 4, "ratePerMinute": None, "reserve": 0},
                }
            ],
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


@pytest.fixture
def api(stub: StubServer) -> StubServer:  # noqa: F811 - the imported fixture, requested
    """The HTTP API, faked: answers scripted per (method, path), every request recorded."""
    return stub


def genjobs(api: StubServer, *argv: str) -> int:
    return main(["--api-url", api.url, "--token", "t0k", *argv])


def test_pause_posts_to_the_job_and_prints_its_status_after(
    api: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a job the API pauses
    api.on("POST", "/jobs/j1/pause", Reply(200, {"jobId": "j1", "status": "PAUSED"}))

    # WHEN the user pauses it
    code = genjobs(api, "pause", "j1")

    # THEN the pause was asked with their token, and they read the job's status and how to continue
    assert code == 0
    (seen,) = api.requests
    assert (seen.method, seen.path, seen.body, seen.headers["Authorization"]) == (
        "POST",
        "/jobs/j1/pause",
        b"",
        "Bearer t0k",
    )
    assert capsys.readouterr().out == "job j1 PAUSED; continue it: genjobs resume j1\n"


@pytest.mark.parametrize(("status", "body", "code"), [(409, CONFLICT, 4), (404, {"title": "Not found"}, 3)])
def test_pausing_a_job_that_ended_or_does_not_exist_exits_non_zero_with_the_apis_message(
    api: StubServer, capsys: pytest.CaptureFixture[str], status: int, body: dict[str, Any], code: int
) -> None:
    # GIVEN an API that refuses the pause
    api.on("POST", "/jobs/j1/pause", Reply(status, body))

    # WHEN the user pauses the job
    exit_code = genjobs(api, "pause", "j1")

    # THEN the exit code says why, the API's message is on stderr and nothing on stdout
    captured = capsys.readouterr()
    assert exit_code == code
    assert captured.out == ""
    assert captured.err.startswith(f"error: {status} {body['title']}")
    if status == 409:
        assert "job j1 has ended (COMPLETED)" in captured.err


@pytest.mark.parametrize(
    ("argv", "method", "path", "body", "printed"),
    [
        pytest.param(
            ["resume", "j1"],
            "POST",
            "/jobs/j1/resume",
            {"jobId": "j1", "status": "PROCESSING"},
            ["job j1 PROCESSING; follow it: genjobs watch j1"],
            id="resume posts to the job and prints its status after",
        ),
        pytest.param(
            ["plan"],
            "GET",
            "/me",
            ACCOUNT,
            [
                "user       alice",
                "plan       pro (assigned), priority 20",
                "in flight  3 of 400 tasks at providers",
                "credits    available 49  reserved 0  charged 1  granted 50",
            ],
            id="plan shows the caller's plan, its use and their credits",
        ),
        pytest.param(
            ["plans"],
            "GET",
            "/plans",
            PLANS,
            [
                "PLAN            MAX IN FLIGHT  PRIORITY",
                "pro             400            20",
                "free (default)  20             0",
                "",
                "PROVIDER / MODEL     CONCURRENCY  KEPT FOR NEWCOMERS  PER MINUTE",
                "replicate            -            -                   600",
                "fal                  10           2                   -",
                "fal/fal-ai/flux/dev  4            -                   -",
            ],
            id="plans lists the plans with the default and the provider limits",
        ),
    ],
)
def test_a_command_asks_its_route_and_prints_the_answer_for_people(
    api: StubServer,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    method: str,
    path: str,
    body: dict[str, Any],
    printed: list[str],
) -> None:
    api.on(method, path, Reply(200, body))
    assert genjobs(api, *argv) == 0
    assert [(r.method, r.path) for r in api.requests] == [(method, path)]
    assert capsys.readouterr().out.splitlines() == printed


def test_set_plan_puts_the_plan_on_the_user_and_prints_their_account(
    api: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    api.on("PUT", "/admin/users/alice/plan", Reply(200, ACCOUNT))
    assert genjobs(api, "set-plan", "alice", "pro", "--json") == 0
    assert api.requests[0].json() == {"plan": "pro"}
    assert json.loads(capsys.readouterr().out) == ACCOUNT


def test_set_plan_to_a_plan_not_configured_exits_7_naming_the_field(
    api: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the API's refusal of a plan it does not have
    refusal = {
        "title": "Bad request",
        "status": 400,
        "detail": "plan: 'gold' is not a configured plan; the plans are free, pro",
        "errors": [{"field": "plan", "reason": "'gold' is not a configured plan; the plans are free, pro"}],
    }
    api.on("PUT", "/admin/users/alice/plan", Reply(400, refusal))

    # WHEN an operator assigns it
    code = genjobs(api, "set-plan", "alice", "gold")

    # THEN the exit code is validation's and the message names the field and the plans
    assert code == 7
    err = capsys.readouterr().err
    assert "  - plan: 'gold' is not a configured plan; the plans are free, pro" in err


def test_user_reads_a_users_account(api: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    api.on("GET", "/admin/users/alice", Reply(200, ACCOUNT))
    assert genjobs(api, "user", "alice") == 0
    assert "plan       pro (assigned), priority 20" in capsys.readouterr().out
