"""The seed apps' own acceptance lists (../shared/seeds/), over the public API of the local stack.

Each test names the seed item it proves. Items proven in depth elsewhere are proven here too, from
the app's side only, so this file reads as the acceptance checklist:

- wedding photos (000): exact counts in both modes; creation does not block; leaving and coming back
  finds the active job and its progress goes on; refresh re-attaches; the stop button keeps what is
  done and refunds the rest; GET /jobs/{id} returns tasks and outputs.
- 3D models (001): progress 0-100 from the provider; a completion push; 10 poll errors fail the task;
  no duplicate generation for one request.
- cancellation (002): cancel keeps partial results and charges exactly the finished ones; parallel
  tasks are cancelled together.
- music (003): re-triggering a finished generation is idempotent.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, Phone, job_keys, sim_job, sim_stats, wait_for

pytestmark = pytest.mark.e2e


def wedding(count: int | None = None, **sim: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "simulator",
        "model": "sim-image",
        "collectionId": "album-seed",
        "input": {"prompt": "wedding", "sim": {"latency": 20, **sim}},
        "matrix": {
            "style": ["classic", "film", "watercolor", "hanbok"],
            "role": [{"role": "GROOM", "photo": "g.jpg"}, {"role": "BRIDE", "photo": "b.jpg"}],
        },
    }
    if count is not None:
        body["count"] = count
    return body


def test_000_batch_of_5_creates_exactly_5_tasks_and_single_mode_states_styles_x_roles(app: Client) -> None:
    batch = app.create(wedding(count=5))
    single = app.create(wedding())
    assert batch["plan"]["taskCount"] == 5
    assert single["plan"] == {"taskCount": 8, "unitPrice": 1, "creditsReserved": 8}  # 4 styles x 2 roles
    for job_id in (batch["jobId"], single["jobId"]):
        app.wait(job_id)
    assert app.credits()["charged"] == 13


def test_000_leaving_and_coming_back_finds_the_active_job_and_its_progress_goes_on(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN an album being generated, and the app closed (nothing polls)
    app.create(wedding(count=4, latency=200, progressSteps=4) | {"concurrency": 2})
    time.sleep(0.5)
    # WHEN the app comes back: a new session, the same user, only the album id known
    returning = Client(stack, app.user)
    active = returning.get("/jobs?status=active&collectionId=album-seed").json()["items"]
    # THEN it finds the running job and sees its progress move on to the end
    assert len(active) == 1
    job_id = active[0]["jobId"]
    seen = [returning.job(job_id)["progress"]]
    final = returning.wait(job_id, until=lambda j: seen.append(j["progress"]) or j["status"] == "COMPLETED")
    assert final["progress"] == 100.0
    assert seen == sorted(seen)  # never goes backwards
    assert len(set(seen)) > 2  # moved in steps, not 0 then 100
    assert returning.get("/jobs?status=active&collectionId=album-seed").json()["items"] == []


def test_000_stop_button_keeps_finished_images_and_refunds_the_rest(app: Client) -> None:
    # GIVEN 6 images generated two at a time
    job_id = app.create(wedding(count=6, latency=100) | {"concurrency": 2})["jobId"]
    app.wait(job_id, until=lambda j: j["counts"]["COMPLETED"] >= 2)
    # WHEN the user presses stop
    assert app.post(f"/jobs/{job_id}/cancel").status_code == 202
    job = app.wait(job_id)
    # THEN the finished images are kept (with their outputs) and charged, the rest refunded
    done = [t for t in job["tasks"] if t["status"] == "COMPLETED"]
    assert job["status"] == "CANCELLED"
    assert len(done) >= 2
    assert all(t["outputs"] for t in done)
    assert job["credits"]["charged"] == len(done)
    assert job["credits"]["refunded"] == 6 - len(done)
    assert app.credits()["reserved"] == 0


def test_000_status_api_returns_tasks_with_their_outputs(app: Client) -> None:
    job = app.wait(app.create(wedding(count=2))["jobId"])
    assert [t["status"] for t in job["tasks"]] == ["COMPLETED", "COMPLETED"]
    assert all(t["outputs"][0]["url"] and t["outputs"][0]["contentType"] == "image/png" for t in job["tasks"])


def test_001_progress_comes_from_the_provider_from_0_to_100(app: Client) -> None:
    # GIVEN one long generation whose provider reports progress in 5 steps
    job_id = app.create(sim_job(1, model="sim-3d", latency=420, progressSteps=5))["jobId"]
    seen: list[float] = []
    app.wait(job_id, until=lambda j: seen.append(j["progress"]) or j["status"] == "COMPLETED", timeout=90)
    # THEN the app saw intermediate provider progress, not only 0 and 100
    assert any(0 < p < 100 for p in seen), seen
    assert seen[-1] == 100.0


def test_001_completion_is_pushed_to_the_phone_with_a_deep_link(stack: LocalStack, app: Client) -> None:
    phone = Phone(app)
    job_id = app.create(sim_job(1))["jobId"]
    app.wait(job_id)
    pushed = wait_for(phone.pushes, what="push")
    message = json.loads(json.loads(pushed[0])["GCM"])
    assert message["data"] == {"jobId": job_id, "status": "COMPLETED", "link": f"genjobs://jobs/{job_id}"}


def test_001_ten_consecutive_poll_errors_fail_the_generation(app: Client) -> None:
    job = app.wait(app.create(sim_job(1, latency=100, statusErrors=50))["jobId"], timeout=60)
    assert job["status"] == "FAILED"
    assert "10 consecutive poll errors" in job["tasks"][0]["error"]
    assert app.credits()["charged"] == 0


def test_001_a_repeated_request_does_not_generate_twice(stack: LocalStack, app: Client) -> None:
    body = sim_job(2)
    first = app.create(body, headers={"Idempotency-Key": "model-42"})
    again = app.create(body, headers={"Idempotency-Key": "model-42"})
    assert again["jobId"] == first["jobId"]
    app.wait(first["jobId"])
    stats = sim_stats(stack)
    assert [stats["creates_per_key"][k] for k in job_keys(first["jobId"], 2)] == [1, 1]
    assert app.credits()["charged"] == 2


def test_002_cancel_keeps_partial_results_and_charges_exactly_the_finished_ones(app: Client) -> None:
    job_id = app.create(sim_job(10, latency=50) | {"concurrency": 1})["jobId"]
    app.wait(job_id, until=lambda j: j["counts"]["COMPLETED"] >= 3)
    app.post(f"/jobs/{job_id}/cancel")
    job = app.wait(job_id)
    completed = job["counts"]["COMPLETED"]
    assert job["status"] == "CANCELLED"
    assert 3 <= completed < 10
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (completed, 10 - completed)
    assert app.credits() == {"available": 50 - completed, "reserved": 0, "charged": completed, "granted": 50}


def test_002_parallel_tasks_are_cancelled_together(stack: LocalStack, app: Client) -> None:
    # GIVEN 4 tasks running in parallel at the provider
    job_id = app.create(sim_job(4, latency=1000) | {"concurrency": 4})["jobId"]
    running = app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 4)
    # WHEN the job is cancelled
    app.post(f"/jobs/{job_id}/cancel")
    job = app.wait(job_id)
    # THEN every one of them was stopped at the provider and refunded
    assert job["counts"]["CANCELLED"] == 4
    for task in running["tasks"]:
        prediction = sim_prediction(stack, task["providerId"])
        assert prediction["status"] == "canceled"
    assert app.credits()["charged"] == 0


def test_003_retriggering_a_finished_generation_changes_nothing(stack: LocalStack, app: Client) -> None:
    job_id = app.create(sim_job(1), headers={"Idempotency-Key": "track-7"})["jobId"]
    before = app.wait(job_id)
    again = app.create(sim_job(1), headers={"Idempotency-Key": "track-7"})
    stack.invoke("SettleJobFunction", {"jobId": job_id})
    stack.invoke("PollTaskFunction", {"jobId": job_id, "taskIndex": 0})
    assert again["jobId"] == job_id
    after = app.job(job_id)
    assert (after["status"], after["credits"], after["counts"]) == (
        before["status"],
        before["credits"],
        before["counts"],
    )
    assert app.credits()["charged"] == 1


def sim_prediction(stack: LocalStack, provider_id: str) -> dict[str, Any]:
    import requests

    return dict(requests.get(f"{stack.simulator_url}/v1/predictions/{provider_id}", timeout=10).json())
