"""Pause and resume on the embedded stack: a paused job submits nothing new while its tasks in
flight finish and are kept, resumes to completion, can be cancelled while paused, and is cancelled
and refunded once left paused longer than the pause timeout. Credits are exact in each."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import TIME_SCALE, Client, sim_job, sim_stats
from tests.e2e.dispatch.conftest import PAUSE_TIMEOUT
from tests.e2e.dispatch.test_fair_dispatch import assert_credits_exact

pytestmark = [pytest.mark.e2e]


def pause(app: Client, job_id: str) -> dict[str, Any]:
    response = app.post(f"/jobs/{job_id}/pause")
    assert response.status_code == 200, response.text
    return dict(response.json())


def resume(app: Client, job_id: str) -> dict[str, Any]:
    response = app.post(f"/jobs/{job_id}/resume")
    assert response.status_code == 200, response.text
    return dict(response.json())


def creates(stack: LocalStack, job_id: str) -> int:
    return sum(1 for key in sim_stats(stack)["creates_per_key"] if key.startswith(f"{job_id}:"))


def started_job(make_user: Callable[..., Client], body: dict[str, Any]) -> tuple[Client, str]:
    """A user of 20 credits and their job, once its first tasks are at the provider."""
    app = make_user(20)
    job_id = app.create(body)["jobId"]
    app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] >= 1)
    return app, job_id


def kinds(app: Client, job_id: str) -> list[str]:
    return [e["kind"] for e in app.events(job_id)]


def test_a_paused_job_submits_nothing_new_keeps_what_runs_and_completes_once_resumed(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN a 6-task job run 2 at a time, its first tasks at the provider
    app, job_id = started_job(make_user, sim_job(6, latency=40) | {"concurrency": 2})
    # WHEN the user pauses it (twice: the second is answered as it is)
    paused = pause(app, job_id)
    assert paused["status"] == "PAUSED"
    assert pause(app, job_id)["status"] == "PAUSED"
    listed = app.get("/jobs", params={"status": "PAUSED"}).json()["items"]
    assert [j["jobId"] for j in listed] == [job_id]
    assert job_id not in [
        j["jobId"] for j in app.get("/jobs", params={"status": "PROCESSING"}).json()["items"]
    ]
    # THEN the tasks in flight finish and are kept, and nothing new reaches the provider
    submitted = creates(stack, job_id)
    time.sleep(150 * TIME_SCALE)  # past the running tasks' end, long enough for more to start
    job = app.job(job_id)
    assert job["status"] == "PAUSED"
    assert job["counts"]["COMPLETED"] >= 1
    assert creates(stack, job_id) <= submitted + 1  # one may have been admitted as the pause landed
    # WHEN it is resumed
    assert resume(app, job_id)["status"] in {"PENDING", "PROCESSING"}
    # THEN every task completes, charged once
    job = app.wait(job_id, timeout=90)
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 6
    assert {"job.paused", "job.resumed", "task.parked"} <= set(kinds(app, job_id))
    assert_credits_exact(stack, app, charged=6)


def test_cancel_while_paused_cancels_the_parked_tasks_and_refunds_them(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN a paused job with tasks parked
    app, job_id = started_job(make_user, sim_job(5, latency=30) | {"concurrency": 5})
    pause(app, job_id)
    # WHEN the user cancels it
    response = app.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 202, response.text
    # THEN it settles CANCELLED: what finished is charged, the rest refunded
    job = app.wait(job_id, timeout=90)
    assert job["status"] == "CANCELLED"
    charged = job["counts"]["COMPLETED"]
    assert job["counts"]["CANCELLED"] + charged == 5
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (charged, 5 - charged)
    assert_credits_exact(stack, app, charged=charged)


def test_a_job_left_paused_past_the_timeout_is_cancelled_and_refunded(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN a job paused before its tasks ran
    app = make_user(20)
    job_id = app.create(sim_job(3, latency=20) | {"concurrency": 3})["jobId"]
    pause(app, job_id)
    # WHEN it stays paused past the pause timeout
    job = app.wait(job_id, timeout=(PAUSE_TIMEOUT * 2) * TIME_SCALE + 60)
    # THEN the sweeper cancelled it, refunded what did not run, and said why
    assert job["status"] == "CANCELLED"
    assert "job.pause_expired" in kinds(app, job_id)
    assert job["credits"]["refunded"] == 3 - job["counts"]["COMPLETED"]
    assert_credits_exact(stack, app, charged=job["counts"]["COMPLETED"])


def test_pausing_an_ended_job_is_refused_saying_why(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    app = make_user(5)
    job_id = app.create(sim_job(1, latency=1))["jobId"]
    app.wait(job_id)
    response = app.post(f"/jobs/{job_id}/pause")
    assert response.status_code == 409
    assert "already ended" in response.text
