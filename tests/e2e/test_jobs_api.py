"""The jobs API contract over HTTP, against the embedded stack (issue: exact planning, credits,
cancel, active jobs, idempotency, isolation, problem details)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_job

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def albums(count: int | None = None, **sim: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "simulator",
        "model": "sim-image",
        "collectionId": "album-1",
        "input": {"prompt": "wedding", "sim": {"latency": 1, **sim}},
        "matrix": {"style": ["A", "B", "C"], "role": ["GROOM", "BRIDE"]},
    }
    if count is not None:
        body["count"] = count
    return body


def state(app: Client) -> tuple[dict[str, Any], list[str]]:
    jobs = app.get("/jobs?limit=100").json()["items"]
    return app.credits(), [j["jobId"] for j in jobs]


# ------------------------------------------------------------------------------ planning
def test_count_5_over_3_styles_and_2_roles_generates_exactly_5_images(app: Client) -> None:
    # WHEN an album of 5 is requested over 3 styles x 2 roles
    created = app.create(albums(count=5))
    # THEN the plan says 5 and exactly the first 5 combinations run
    assert created["plan"] == {"taskCount": 5, "unitPrice": 1, "creditsReserved": 5}
    job = app.wait(created["jobId"])
    assert [(t["input"]["style"], t["input"]["role"]) for t in job["tasks"]] == [
        ("A", "GROOM"),
        ("A", "BRIDE"),
        ("B", "GROOM"),
        ("B", "BRIDE"),
        ("C", "GROOM"),
    ]
    assert job["counts"]["COMPLETED"] == 5
    assert app.credits()["charged"] == 5


def test_without_count_every_combination_runs_once(app: Client) -> None:
    job = app.wait(app.create(albums())["jobId"])
    assert job["plan"]["taskCount"] == 6
    assert len({(t["input"]["style"], t["input"]["role"]) for t in job["tasks"]}) == 6


def test_creation_returns_at_once_while_the_work_runs_on_the_server(app: Client) -> None:
    # GIVEN images that take 10 minutes each at the provider
    started = time.monotonic()
    created = app.create(sim_job(2, latency=600))
    # THEN the answer comes before any image is done, and the job is found running
    assert time.monotonic() - started < 5
    job = app.wait(created["jobId"], until=lambda j: j["status"] == "PROCESSING")
    assert job["counts"]["COMPLETED"] == 0
    app.post(f"/jobs/{created['jobId']}/cancel")


# ------------------------------------------------------------------------------ idempotency
def test_same_idempotency_key_and_body_returns_the_same_job_and_reserves_once(app: Client) -> None:
    body = sim_job(3)
    first = app.create(body, headers={"Idempotency-Key": "checkout-1"})
    second = app.create(body, headers={"Idempotency-Key": "checkout-1"})
    assert first["jobId"] == second["jobId"]
    credits, jobs = state(app)
    assert jobs == [first["jobId"]]
    assert credits["available"] + credits["charged"] == 47  # 3 reserved or charged, not 6


def test_same_idempotency_key_with_another_body_is_refused(app: Client) -> None:
    app.create(sim_job(1), headers={"Idempotency-Key": "k-2"})
    before = state(app)
    response = app.post("/jobs", json=sim_job(2), headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert state(app)[1] == before[1]


# ------------------------------------------------------------------------------ credits
def test_insufficient_credits_is_402_and_nothing_is_created(make_user: Callable[..., Client]) -> None:
    app = make_user(credits=2)
    response = app.post("/jobs", json=sim_job(3))
    assert response.status_code == 402
    assert response.json()["title"] == "Insufficient credits"
    assert state(app) == ({"available": 2, "reserved": 0, "charged": 0, "granted": 2}, [])


def test_credits_are_granted_by_operators_only(stack: LocalStack, app: Client) -> None:
    response = app.post("/admin/credits", json={"userId": app.user, "amount": 1000, "grantId": "self"})
    assert response.status_code == 403
    assert app.credits()["granted"] == 50


def test_a_grant_is_applied_once_per_grant_id(operator: Client, app: Client) -> None:
    body = {"userId": app.user, "amount": 10, "grantId": "promo-7"}
    assert operator.post("/admin/credits", json=body).json()["applied"] is True
    assert operator.post("/admin/credits", json=body).json()["applied"] is False
    assert app.credits()["granted"] == 60


# ------------------------------------------------------------------------------ isolation
def test_another_users_job_does_not_exist_for_the_caller(make_user: Callable[..., Client]) -> None:
    owner, other = make_user(), make_user()
    job_id = owner.create(sim_job(1, latency=600))["jobId"]
    for method, path in [
        ("GET", f"/jobs/{job_id}"),
        ("GET", f"/jobs/{job_id}/tasks"),
        ("GET", f"/jobs/{job_id}/events"),
        ("POST", f"/jobs/{job_id}/cancel"),
    ]:
        assert other.request(method, path).status_code == 404, path
    assert other.get("/jobs").json()["items"] == []
    assert owner.job(job_id)["status"] in {"PENDING", "PROCESSING"}  # the other user's cancel did nothing
    owner.post(f"/jobs/{job_id}/cancel")


def test_requests_without_a_valid_token_are_rejected(stack: LocalStack) -> None:
    assert requests.get(f"{stack.api_url}/jobs", timeout=10).status_code == 401
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert requests.post(f"{stack.api_url}/jobs", json=sim_job(1), headers=bad, timeout=10).status_code == 401


# ------------------------------------------------------------------------------ bad input
BAD_BODIES: list[tuple[str, Any, str]] = [
    ("missing provider", {"model": "sim-image", "tasks": [{}]}, "provider"),
    ("unknown field", {**sim_job(1), "priority": "high"}, "priority"),
    ("wrong type", {**sim_job(1), "tasks": "all"}, "tasks"),
    ("count 0", {**albums(), "count": 0}, "count"),
    ("count over the limit", {**albums(), "count": 10_001}, "count"),
    ("empty matrix", {**albums(), "matrix": {}}, "matrix"),
    ("empty dimension", {**albums(), "matrix": {"style": []}}, "matrix.style"),
    ("both tasks and matrix", {**albums(), "tasks": [{}]}, "tasks"),
    ("unknown provider", {**sim_job(1), "provider": "midjourney"}, "provider"),
    ("unknown model", {**sim_job(1), "model": "sim-teleport"}, "model"),
    ("concurrency 0", {**sim_job(1), "concurrency": 0}, "concurrency"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_input_names_the_field_and_changes_nothing(app: Client, case: str, body: Any, field: str) -> None:
    before = state(app)
    response = app.post("/jobs", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]], problem
    assert state(app) == before


def test_malformed_json_is_400_and_an_oversized_body_413(app: Client) -> None:
    before = state(app)
    response = app.post("/jobs", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"
    huge = {**sim_job(1), "input": {"prompt": "x" * 1_100_000}}
    assert app.post("/jobs", json=huge).status_code == 413
    assert state(app) == before


# ------------------------------------------------------------------------------ reading jobs
def test_an_app_coming_back_finds_its_active_job_in_the_collection(app: Client) -> None:
    finished = app.create({**albums(count=1), "collectionId": "album-9"})["jobId"]
    app.wait(finished)
    running = app.create({**albums(count=2, latency=600), "collectionId": "album-9"})["jobId"]
    other_album = app.create({**albums(count=1, latency=600), "collectionId": "album-10"})["jobId"]
    active = app.get("/jobs?status=active&collectionId=album-9").json()["items"]
    assert [j["jobId"] for j in active] == [running]
    everything = [j["jobId"] for j in app.get("/jobs").json()["items"]]
    assert everything == [other_album, running, finished]  # newest first
    for job_id in (running, other_album):
        app.post(f"/jobs/{job_id}/cancel")


def test_job_lists_and_tasks_are_paginated(app: Client) -> None:
    ids = [app.create(sim_job(1, latency=600))["jobId"] for _ in range(3)]
    first = app.get("/jobs?limit=2").json()
    second = app.get(f"/jobs?limit=2&cursor={first['cursor']}").json()
    assert [j["jobId"] for j in first["items"] + second["items"]] == list(reversed(ids))
    assert app.get("/jobs?cursor=garbage").status_code == 400
    assert app.get("/jobs?status=sleeping").status_code == 422
    misspelt = app.get("/jobs?colectionId=album-1")
    assert misspelt.status_code == 422
    assert misspelt.json()["errors"] == [{"field": "colectionId", "reason": "unknown query parameter"}]
    for job_id in ids:
        app.post(f"/jobs/{job_id}/cancel")

    job_id = app.create(sim_job(30, latency=0))["jobId"]
    app.wait(job_id)
    page = app.get(f"/jobs/{job_id}/tasks?limit=20").json()
    rest = app.get(f"/jobs/{job_id}/tasks?limit=20&cursor={page['cursor']}").json()
    assert [t["index"] for t in page["items"] + rest["items"]] == list(range(30))
    assert rest["cursor"] is None


def test_outputs_are_short_lived_links_to_our_bucket(stack: LocalStack, app: Client) -> None:
    job = app.wait(app.create(sim_job(1))["jobId"])
    url = job["tasks"][0]["outputs"][0]["url"]
    assert stack.resource("OutputBucket") in url
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url  # SigV4: S3 refuses SigV2 on new buckets
    assert "X-Amz-Expires=900" in url
    download = requests.get(url, timeout=10)
    assert download.status_code == 200
    assert download.content.startswith(b"\x89PNG")


# ------------------------------------------------------------------------------ cancel
def test_cancel_is_idempotent_and_a_finished_job_cannot_be_cancelled(app: Client) -> None:
    job_id = app.create(sim_job(2, latency=600))["jobId"]
    first = app.post(f"/jobs/{job_id}/cancel")
    second = app.post(f"/jobs/{job_id}/cancel")
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["status"] in {"CANCELLING", "CANCELLED"}
    assert app.wait(job_id)["status"] == "CANCELLED"
    assert app.post(f"/jobs/{job_id}/cancel").status_code == 202  # cancelled stays cancelled

    done = app.create(sim_job(1))["jobId"]
    app.wait(done)
    conflict = app.post(f"/jobs/{done}/cancel")
    assert conflict.status_code == 409
    assert conflict.headers["Content-Type"].startswith("application/problem+json")


# ------------------------------------------------------------------------------ document
def test_the_served_openapi_document_is_the_committed_one(stack: LocalStack) -> None:
    served = requests.get(f"{stack.api_url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads((ROOT / "docs" / "openapi.json").read_text())
