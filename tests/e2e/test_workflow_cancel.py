"""Cancellation on the embedded stack: a flag checked at every step, never StopExecution. Tasks not
started are CANCELLED and never submitted, tasks in flight get a provider cancel, results that still
arrive are kept and charged, and settlement releases the rest."""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
import requests

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import TIME_SCALE, Client, Phone, job_keys, sim_job, sim_stats, wait_for
from tests.e2e.test_workflow import assert_outputs_downloadable, kinds, ledger, one_push

pytestmark = [pytest.mark.e2e]


@contextmanager
def held(stack: LocalStack, function: str, handler: str) -> Iterator[threading.Event]:
    """Holds every invocation of `function` until the yielded event is set (then runs its real code)."""
    module, _, attribute = handler.rpartition(".")
    real = getattr(importlib.import_module(module), attribute)
    release = threading.Event()

    def gated(event: Any, context: Any) -> Any:
        release.wait(30)
        return real(event, context)

    stack.override_handler(function, gated)
    try:
        yield release
    finally:
        release.set()
        stack.override_handler(function, None)


def cancel(app: Client, job_id: str) -> requests.Response:
    return app.post(f"/jobs/{job_id}/cancel")


def prediction(stack: LocalStack, provider_id: str) -> dict[str, Any]:
    return dict(requests.get(f"{stack.simulator_url}/v1/predictions/{provider_id}", timeout=10).json())


def test_cancel_before_start_submits_nothing_and_refunds_everything(stack: LocalStack, app: Client) -> None:
    # GIVEN a 3-task job whose workflow has not prepared its tasks yet, and a phone
    phone = Phone(app)
    with held(stack, "PrepareJobFunction", "genjobs.handlers.prepare_job.handler") as release:
        job_id = app.create(sim_job(3))["jobId"]
        # WHEN the user cancels it
        response = cancel(app, job_id)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "CANCELLING"
        release.set()
        job = app.wait(job_id)
    # THEN every task is CANCELLED, none reached the provider, and every credit is back
    assert job["status"] == "CANCELLED"
    assert job["counts"]["CANCELLED"] == 3
    assert all(t["providerId"] is None and t["outputs"] == [] for t in job["tasks"])
    stats = sim_stats(stack)
    assert not set(job_keys(job_id, 3)) & set(stats["submit_attempts_per_key"])
    assert ledger(app) == (50, 50, 0, 0)
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (0, 3)
    # AND the user is told once, and the timeline shows the request and each cancellation
    assert one_push(stack, phone)["data"]["status"] == "CANCELLED"
    timeline = kinds(app, job_id)
    assert timeline["job.cancel_requested"] == 1
    assert timeline["task.cancelled"] == 3
    assert timeline["task.submitted"] == 0


def test_cancel_mid_flight_cancels_at_the_provider_and_never_submits_waiting_tasks(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a 3-task job run one task at a time, its first task running at the provider
    phone = Phone(app)
    created = app.create(sim_job(3, latency=500) | {"concurrency": 1})
    job_id = created["jobId"]
    running = app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 1)
    provider_id = running["tasks"][0]["providerId"]
    assert provider_id
    # WHEN the user cancels the job
    assert cancel(app, job_id).status_code == 202
    job = app.wait(job_id)
    # THEN the running prediction was cancelled at the provider at the task's next wake-up
    assert prediction(stack, provider_id)["status"] == "canceled"
    # AND the two waiting tasks never reached the provider
    assert job["status"] == "CANCELLED"
    assert job["counts"]["CANCELLED"] == 3
    stats = sim_stats(stack)
    keys = job_keys(job_id, 3)
    assert stats["creates_per_key"][keys[0]] == 1
    assert not set(keys[1:]) & set(stats["submit_attempts_per_key"])
    # AND nothing is charged, one push, and the timeline shows the provider cancel
    assert ledger(app) == (50, 50, 0, 0)
    assert one_push(stack, phone)["data"]["status"] == "CANCELLED"
    timeline = kinds(app, job_id)
    assert timeline["task.cancel_sent"] == 1
    assert timeline["task.cancelled"] == 3
    assert timeline["task.submitted"] == 1


def test_cancel_mid_flight_of_a_webhook_task_cancels_at_the_provider(stack: LocalStack, app: Client) -> None:
    # GIVEN a webhook task running at the provider
    job_id = app.create(sim_job(1, model="sim-image-webhook", latency=500))["jobId"]
    running = app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 1)
    provider_id = running["tasks"][0]["providerId"]
    # WHEN the user cancels the job
    assert cancel(app, job_id).status_code == 202
    job = app.wait(job_id, timeout=30)
    # THEN the prediction was cancelled at the provider, the task CANCELLED and refunded
    assert prediction(stack, provider_id)["status"] == "canceled"
    assert job["status"] == "CANCELLED"
    assert job["tasks"][0]["status"] == "CANCELLED"
    assert ledger(app) == (50, 50, 0, 0)
    assert kinds(app, job_id)["task.cancel_sent"] == 1


def test_a_webhook_task_is_cancelled_at_the_provider_by_the_cancel_itself_not_at_the_next_sweep(
    stack: LocalStack, app: Client, no_sweeper: None
) -> None:
    # GIVEN a video task (expected 120 s, so its webhook is overdue only after 240 s) running, and
    # no sweeper pass (one landing between the cancel and its message would send the cancel first)
    job_id = app.create(sim_job(1, model="sim-video", latency=3000))["jobId"]
    app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 1)
    # WHEN the user cancels
    assert cancel(app, job_id).status_code == 202
    app.wait(job_id, timeout=30)
    # THEN the cancel request itself sent the provider cancel, within seconds: not the sweeper's
    # next pass (up to 60 s later) nor the overdue webhook's rescue (240 s)
    events = app.events(job_id)
    requested = next(e["at"] for e in events if e["kind"] == "job.cancel_requested")
    sent = next(e for e in events if e["kind"] == "task.cancel_sent")
    assert sent["detail"]["by"] == "cancel request"
    elapsed = datetime.fromisoformat(sent["at"]) - datetime.fromisoformat(requested)
    assert elapsed.total_seconds() < 60 * TIME_SCALE  # under one sweeper interval
    assert ledger(app) == (50, 50, 0, 0)


def test_cancel_after_the_last_task_keeps_every_output_charged(stack: LocalStack, app: Client) -> None:
    # GIVEN a 2-task job whose tasks have all completed but which is not settled yet
    phone = Phone(app)
    with held(stack, "SettleJobFunction", "genjobs.handlers.settle_job.handler") as release:
        job_id = app.create(sim_job(2))["jobId"]
        app.wait(job_id, until=lambda j: j["counts"]["COMPLETED"] == 2)
        # WHEN the user cancels it
        assert cancel(app, job_id).status_code == 202
        release.set()
        job = app.wait(job_id)
    # THEN the job still COMPLETED: both outputs kept and charged, nothing refunded
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 2
    assert_outputs_downloadable(job)
    assert ledger(app) == (50, 48, 0, 2)
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (2, 0)
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"
    # AND cancelling the ended job is a conflict that changes nothing
    response = cancel(app, job_id)
    assert response.status_code == 409
    assert app.job(job_id)["status"] == "COMPLETED"
    assert ledger(app) == (50, 48, 0, 2)
    stack.wait_idle()
    assert len(phone.pushes()) == 1


def test_late_result_after_cancel_is_kept_and_charged(stack: LocalStack, app: Client) -> None:
    # GIVEN a 2-task job run one at a time; the first task's prediction has already succeeded at
    # the provider but its webhook was lost, so we have not seen the result yet
    phone = Phone(app)
    body = sim_job(2, model="sim-image-webhook", webhook={"drop": True}) | {"concurrency": 1}
    job_id = app.create(body)["jobId"]
    running = app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 1)
    provider_id = running["tasks"][0]["providerId"]
    wait_for(lambda: prediction(stack, provider_id)["status"] == "succeeded", what="the prediction")
    # WHEN the user cancels, and the result arrives afterwards (the sweeper finds it)
    assert cancel(app, job_id).status_code == 202
    job = app.wait(job_id, timeout=30)
    # THEN the finished image is kept and charged; the task never started is cancelled and refunded
    assert job["status"] == "CANCELLED"
    assert [t["status"] for t in job["tasks"]] == ["COMPLETED", "CANCELLED"]
    assert_outputs_downloadable(job)
    assert ledger(app) == (50, 49, 0, 1)
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (1, 1)
    stats = sim_stats(stack)
    keys = job_keys(job_id, 2)
    assert stats["creates_per_key"][keys[0]] == 1
    assert keys[1] not in stats["submit_attempts_per_key"]
    timeline: Counter[str] = kinds(app, job_id)
    assert (timeline["task.completed"], timeline["task.cancelled"]) == (1, 1)
    assert one_push(stack, phone)["notification"]["body"].startswith("1 done, 0 failed, 1 cancelled")
