"""The API's wiring without AWS: guards ahead of validation, query parameters as the routes declare
them, the caller and the operator as dependencies, every refusal one RFC 9457 problem, and log lines
labelled with the request's job. Logic is replaced by fakes; nothing reaches a table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from genjobs.handlers import api
from genjobs.logic import credits, jobs
from genjobs.logic.errors import NotFound
from genjobs.models.api import CreditsBalanceView, GrantView, JobListView
from genjobs.observability import logger
from genjobs.routes.dependencies import caller, require_admin
from tests.integration.test_idempotency_problems import Context
from tests.unit.test_api_body import LIMIT, settings  # noqa: F401 - the settings every test here runs with

PROBLEM = "application/problem+json"


def request(
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What API Gateway's HTTP API hands the function (payload 2.0) after its JWT authorizer."""
    return api.handler(
        {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
            "queryStringParameters": query,
            "headers": {"content-type": "application/json", **(headers or {})},
            "requestContext": {
                "http": {"method": method, "path": path},
                "requestId": "r",
                "stage": "$default",
                "authorizer": {"jwt": {"claims": {"sub": "user-1"} if claims is None else claims}},
            },
            "body": None if body is None else body if isinstance(body, str) else json.dumps(body),
            "isBase64Encoded": False,
        },
        Context(),  # type: ignore[arg-type]
    )


def problem(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["headers"]["Content-Type"] == PROBLEM, answer
    body: dict[str, Any] = json.loads(answer["body"])
    assert body["status"] == answer["statusCode"]
    return body


@pytest.fixture
def overrides() -> Iterator[dict[Any, Any]]:
    yield api.app.dependency_overrides
    api.app.dependency_overrides.clear()


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """GET /jobs answered by a fake listing that records how it was called."""
    calls: list[dict[str, Any]] = []

    def list_jobs(deps: Any, user_id: str, **query: Any) -> JobListView:
        calls.append({"user": user_id, **query, "log": logger.get_current_keys()})
        return JobListView(items=[], cursor=None)

    monkeypatch.setattr(jobs, "list_jobs", list_jobs)
    return calls


def test_a_form_is_refused_as_415_before_anything_parses_it(listed: list[dict[str, Any]]) -> None:
    # GIVEN a form body, which validation would parse as a form
    # WHEN it is posted
    answer = request(
        "POST", "/jobs", body="a=1&b=2", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    # THEN it is the guard's 415 problem naming the header, not a validation error
    assert answer["statusCode"] == 415
    assert problem(answer) == {
        "type": "about:blank",
        "title": "Unsupported media type",
        "status": 415,
        "detail": "the body must be application/json, not application/x-www-form-urlencoded",
        "errors": [
            {
                "field": "Content-Type",
                "reason": "the body must be application/json, not application/x-www-form-urlencoded",
            }
        ],
    }


def test_an_oversized_body_is_413_even_when_it_is_not_json() -> None:
    # GIVEN a body over the limit that is not JSON either
    # WHEN it is posted
    answer = request("POST", "/jobs", body="{" * (LIMIT + 1))
    # THEN the size is what is refused: validation never read it
    assert answer["statusCode"] == 413
    assert problem(answer)["errors"] == [
        {"field": "body", "reason": f"the body is over the limit of {LIMIT} bytes"}
    ]


def test_a_misspelt_filter_is_refused_and_the_declared_ones_reach_the_listing(
    listed: list[dict[str, Any]],
) -> None:
    # GIVEN the listing's declared filters, one of them misspelt
    # WHEN the jobs are listed with it
    misspelt = request("GET", "/jobs", query={"colectionId": "album-1"})
    # THEN it is refused by name and nothing was listed
    assert misspelt["statusCode"] == 422
    assert problem(misspelt)["errors"] == [{"field": "colectionId", "reason": "unknown query parameter"}]
    assert listed == []
    # WHEN they are spelt as the route declares them (the public alias collectionId included)
    answer = request("GET", "/jobs", query={"collectionId": "album-1", "status": "active", "limit": "5"})
    # THEN they reach the listing, validated
    assert answer["statusCode"] == 200, answer
    assert listed[0] | {"log": None} == {
        "user": "user-1",
        "status": "active",
        "collection_id": "album-1",
        "limit": 5,
        "cursor": None,
        "log": None,
    }


def test_a_route_without_query_parameters_refuses_any() -> None:
    # GIVEN the balance route, which declares no query parameter
    # WHEN one is given
    answer = request("GET", "/credits", query={"limit": "5"})
    # THEN it is refused by name
    assert answer["statusCode"] == 422
    assert problem(answer)["errors"] == [{"field": "limit", "reason": "unknown query parameter"}]


def test_the_caller_is_a_dependency_tests_can_replace(
    listed: list[dict[str, Any]], overrides: dict[Any, Any]
) -> None:
    # GIVEN the caller dependency replaced
    overrides[caller] = lambda: "someone-else"
    # WHEN the jobs are listed with a token of user-1
    answer = request("GET", "/jobs")
    # THEN the route served the caller the dependency gave
    assert answer["statusCode"] == 200
    assert listed[0]["user"] == "someone-else"


def test_a_token_without_subject_is_a_403_problem(listed: list[dict[str, Any]]) -> None:
    # GIVEN a token the authorizer let through without a `sub`
    # WHEN it lists jobs
    answer = request("GET", "/jobs", claims={"scope": "x"})
    # THEN it is refused as a problem and nothing was listed
    assert answer["statusCode"] == 403
    assert problem(answer)["detail"] == "the token has no subject"
    assert listed == []


def test_grants_are_for_operators_only(monkeypatch: pytest.MonkeyPatch, overrides: dict[Any, Any]) -> None:
    # GIVEN a grant that would be applied
    applied: list[str | None] = []

    def grant(deps: Any, request: Any, idempotency_key: str | None) -> GrantView:
        applied.append(request.grant_id)
        balance = CreditsBalanceView(available=5, reserved=0, charged=0, granted=5)
        return GrantView(userId=request.user_id, grantId=request.grant_id, applied=True, balance=balance)

    monkeypatch.setattr(credits, "grant", grant)
    body = {"userId": "alice", "amount": 5, "grantId": "welcome"}
    # WHEN a user outside the operators' group grants
    refused = request("POST", "/admin/credits", body=body, claims={"sub": "u", "cognito:groups": "[users]"})
    # THEN it is a 403 problem and nothing was granted
    assert refused["statusCode"] == 403
    assert problem(refused)["detail"] == "this route is for operators"
    assert applied == []
    # WHEN an operator grants (as one of several groups)
    groups = "[users genjobs-admin]"
    granted = request("POST", "/admin/credits", body=body, claims={"sub": "ops", "cognito:groups": groups})
    # THEN the grant is applied
    assert granted["statusCode"] == 200, granted
    assert applied == ["welcome"]
    # AND the operator check is a dependency tests can replace
    overrides[require_admin] = lambda: None
    assert request("POST", "/admin/credits", body=body)["statusCode"] == 200


def test_a_domain_error_is_answered_as_its_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a job the caller does not have
    def get_job(deps: Any, user_id: str, job_id: str) -> Any:
        raise NotFound(f"no job {job_id}")

    monkeypatch.setattr(jobs, "get_job", get_job)
    # WHEN it is read
    answer = request("GET", "/jobs/job-1")
    # THEN the error is the problem, without an empty errors list
    assert answer["statusCode"] == 404
    body = problem(answer)
    assert (body["type"], body["title"], body["detail"]) == ("about:blank", "Not found", "no job job-1")
    assert "errors" not in body


def test_no_route_is_a_404_problem() -> None:
    answer = request("GET", "/nothing-here")
    assert answer["statusCode"] == 404
    assert problem(answer)["detail"] == "no such route"


def test_malformed_json_is_a_400_problem_naming_the_body() -> None:
    answer = request("POST", "/devices", body="{not json")
    assert answer["statusCode"] == 400
    assert problem(answer)["errors"][0]["field"] == "body"


def test_lines_about_a_job_carry_its_id_and_the_next_request_forgets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a read of one job whose logic records the log keys it runs with
    seen: list[dict[str, Any]] = []

    def list_tasks(
        deps: Any, user_id: str, job_id: str, limit: int, cursor: str | None, step: Any = None
    ) -> Any:
        seen.append(logger.get_current_keys())
        return {"items": [], "cursor": None}

    monkeypatch.setattr(jobs, "list_tasks", list_tasks)
    monkeypatch.setattr(jobs, "list_jobs", lambda *a, **k: list_tasks(None, "", "", 0, None))
    # WHEN its tasks are read, then the job list
    assert request("GET", "/jobs/job-7/tasks")["statusCode"] == 200
    assert request("GET", "/jobs")["statusCode"] == 200
    # THEN the first request's lines carried its jobId and the second's none
    assert seen[0].get("jobId") == "job-7"
    assert "jobId" not in seen[1]
