"""Adversarial requests to the provider webhook and the device routes, over HTTP against the local stack.

- The webhook answers every request it refuses (unknown provider, a provider with no credentials,
  missing or bad signatures, bad `job`/`task` values, bodies that are not a JSON object, deliveries
  about another task) with a 4xx problem and changes nothing; a verified duplicate gets a 2xx.
  Providers retry a 5xx for hours, so a 5xx is only for a fault of ours.
- A push token that another user registered moves to the new user: 2xx, the old user's device
  record ends and their pushes stop reaching that phone; replays are harmless.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from genjobs.providers.webhooks import signed_headers
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, Phone, provider_webhook_secret, sim_job, wait_for

pytestmark = [pytest.mark.e2e]


def user_state(client: Client, job_id: str) -> dict[str, Any]:
    job = client.job(job_id)
    return {
        "job": {k: job[k] for k in ("status", "counts", "credits")},
        "tasks": [(t["status"], t.get("outputs")) for t in job["tasks"]],
        "webhooks": sum(e["kind"] == "task.webhook_received" for e in client.events(job_id)),
        "credits": client.credits(),
        "jobs": client.get("/jobs").json()["items"],
    }


def assert_ledger_settled(client: Client) -> None:
    credits = client.credits()
    assert credits["granted"] == credits["available"] + credits["reserved"] + credits["charged"], credits
    assert credits["reserved"] == 0, credits


def test_webhook_answers_4xx_to_every_request_it_refuses_and_2xx_to_a_verified_duplicate(
    stack: LocalStack, make_user: Callable[..., Client], no_sweeper: None
) -> None:
    # GIVEN a webhook-mode task finished at the provider whose own webhook was lost, and another
    # user's webhook-mode task in the same state
    app, other = make_user(), make_user()
    job_id = app.create(sim_job(1, model="sim-image-webhook", webhook={"drop": True}))["jobId"]
    other_job_id = other.create(sim_job(1, model="sim-image-webhook", webhook={"drop": True}))["jobId"]

    def finished_prediction(client: Client, job: str) -> bytes:
        task = wait_for(
            lambda: (t := client.job(job)["tasks"]) and t[0].get("providerId") and t[0], what="submitted"
        )
        url = f"{stack.simulator_url}/v1/predictions/{task['providerId']}"
        found = wait_for(lambda: (p := requests.get(url, timeout=10).json())["status"] == "succeeded" and p)
        return json.dumps(found).encode()

    body, other_body = finished_prediction(app, job_id), finished_prediction(other, other_job_id)
    secret = provider_webhook_secret(stack)
    before, other_before = user_state(app, job_id), user_state(other, other_job_id)

    def signed(payload: bytes) -> dict[str, str]:
        return signed_headers(secret, f"msg-{uuid.uuid4().hex}", payload)

    def deliver(
        payload: bytes,
        headers: dict[str, str],
        *,
        provider: str = "simulator",
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        query = {"job": job_id, "task": "0"} if params is None else params
        return requests.post(
            f"{stack.api_url}/webhooks/{provider}", params=query, data=payload, headers=headers, timeout=10
        )

    unsigned = {"content-type": "application/json"}
    fal_headers = {
        "x-fal-webhook-request-id": "req-1",
        "x-fal-webhook-user-id": "user-1",
        "x-fal-webhook-timestamp": str(int(time.time())),
        "x-fal-webhook-signature": "00" * 64,
        "content-type": "application/json",
    }
    not_json, array, no_id = b"not json {", b"[1, 2]", json.dumps({"status": "succeeded"}).encode()
    binary, deep = bytes(range(256)), b"[" * 100_000 + b"]" * 100_000
    cases: dict[str, tuple[int, requests.Response]] = {
        # the provider
        "unknown provider": (404, deliver(body, signed(body), provider="nope")),
        "replicate, no credentials, unsigned": (401, deliver(body, unsigned, provider="replicate")),
        "replicate, no credentials, signed": (401, deliver(body, signed(body), provider="replicate")),
        "fal, no credentials, unsigned": (401, deliver(body, unsigned, provider="fal")),
        "fal, no credentials, fal headers": (401, deliver(body, fal_headers, provider="fal")),
        # the signature
        "unsigned": (401, deliver(body, unsigned)),
        "forged": (
            401,
            deliver(body, signed_headers("whsec_" + base64.b64encode(b"x" * 24).decode(), "msg-f", body)),
        ),
        "forged, another key": (
            401,
            deliver(body, signed_headers("whsec_" + base64.b64encode(b"y" * 24).decode(), "m", body)),
        ),
        # the query
        "no query": (400, deliver(body, signed(body), params={})),
        "no task": (400, deliver(body, signed(body), params={"job": job_id})),
        "no job": (400, deliver(body, signed(body), params={"task": "0"})),
        "task=-1": (400, deliver(body, signed(body), params={"job": job_id, "task": "-1"})),
        "task=abc": (400, deliver(body, signed(body), params={"job": job_id, "task": "abc"})),
        "task=1.5": (400, deliver(body, signed(body), params={"job": job_id, "task": "1.5"})),
        "task empty": (400, deliver(body, signed(body), params={"job": job_id, "task": ""})),
        "task=1e3": (400, deliver(body, signed(body), params={"job": job_id, "task": "1e3"})),
        "task=+0": (400, deliver(body, signed(body), params={"job": job_id, "task": "+0"})),
        "task=0.0": (400, deliver(body, signed(body), params={"job": job_id, "task": "0.0"})),
        "task with a space": (400, deliver(body, signed(body), params={"job": job_id, "task": " 0"})),
        "task of 5000 digits": (400, deliver(body, signed(body), params={"job": job_id, "task": "9" * 5000})),
        "task huge": (400, deliver(body, signed(body), params={"job": job_id, "task": str(2**70)})),
        "job empty": (400, deliver(body, signed(body), params={"job": "", "task": "0"})),
        "job of 3000 characters": (400, deliver(body, signed(body), params={"job": "j" * 3000, "task": "0"})),
        # the job and task named
        "job not an id": (404, deliver(body, signed(body), params={"job": "no-such-job", "task": "0"})),
        "job unknown": (404, deliver(body, signed(body), params={"job": str(uuid.uuid4()), "task": "0"})),
        "task beyond the job": (404, deliver(body, signed(body), params={"job": job_id, "task": "7"})),
        "another user's job": (404, deliver(body, signed(body), params={"job": other_job_id, "task": "0"})),
        "another user's prediction": (404, deliver(other_body, signed(other_body))),
        # the body
        "body not JSON": (400, deliver(not_json, signed(not_json))),
        "body a JSON array": (400, deliver(array, signed(array))),
        "body empty": (400, deliver(b"", signed(b""))),
        "body binary": (400, deliver(binary, {**signed(binary), "content-type": "application/octet-stream"})),
        "body without a prediction id": (400, deliver(no_id, signed(no_id))),
        "body nested 100,000 deep": (400, deliver(deep, signed(deep))),
    }

    # THEN each is refused with the expected 4xx problem naming what is wrong, and nothing changed
    answered = {name: response.status_code for name, (_, response) in cases.items()}
    assert answered == {name: status for name, (status, _) in cases.items()}
    for name, (_, response) in cases.items():
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json"), name
        assert problem["status"] == response.status_code, name
        assert problem["title"], name
        assert problem["detail"], name
    for name in ("task=-1", "task=abc", "no job"):
        assert cases[name][1].json()["errors"][0]["field"] in {"job", "task"}, name
    assert user_state(app, job_id) == before
    assert user_state(other, other_job_id) == other_before

    # WHEN the valid delivery arrives, then again as the provider's retry (same webhook-id)
    valid = signed(body)
    first, replay = deliver(body, valid), deliver(body, valid)

    # THEN it is applied once and the duplicate gets a 2xx; the job ends, charged once
    assert (first.status_code, first.json()) == (200, {"result": "applied"})
    assert (replay.status_code, replay.json()) == (200, {"result": "duplicate"})
    assert app.wait(job_id, timeout=30)["status"] == "COMPLETED"
    assert app.credits()["charged"] == before["credits"]["charged"] + 1
    assert_ledger_settled(app)

    # AND the other user's job is untouched until its own delivery, then ends too
    assert (
        deliver(other_body, signed(other_body), params={"job": other_job_id, "task": "0"}).status_code == 200
    )
    assert other.wait(other_job_id, timeout=30)["status"] == "COMPLETED"
    assert_ledger_settled(other)


# ------------------------------------------------------------------------------------------ devices
def register(client: Client, token: str) -> requests.Response:
    return client.post("/devices", json={"platform": "FCM", "token": token})


def test_a_push_token_registered_by_another_user_moves_the_phone_to_the_new_user(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN a phone registered by its first owner
    old, new = make_user(), make_user()
    phone = Phone(old)
    old_device = register(old, phone.token).json()["deviceId"]

    # WHEN the phone changes hands and the new owner registers the same token, twice (a replay)
    first, replay = register(new, phone.token), register(new, phone.token)

    # THEN it is accepted, the replay answers the same device, and the old owner's device record ended
    assert first.status_code == 201, first.text
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert old.request("DELETE", f"/devices/{old_device}").status_code == 404

    # AND the phone gets the new owner's push and no longer the old owner's
    old_job = old.wait(old.create(sim_job(1))["jobId"])
    new_job = new.wait(new.create(sim_job(1))["jobId"])
    wait_for(lambda: any(new_job["jobId"] in push for push in phone.pushes()), what="the new owner's push")
    time.sleep(1)  # the old owner's push, were it sent, would have arrived by now
    assert not any(old_job["jobId"] in push for push in phone.pushes())
    assert old_job["status"] == new_job["status"] == "COMPLETED"
    assert_ledger_settled(old)
    assert_ledger_settled(new)

    # AND the first owner can take it back (the phone returned), again without an error
    back = register(old, phone.token)
    assert back.status_code == 201, back.text
    assert new.request("DELETE", f"/devices/{first.json()['deviceId']}").status_code == 404


def test_a_refused_device_registration_creates_nothing(make_user: Callable[..., Client]) -> None:
    # GIVEN a user with a phone
    app = make_user()
    phone = Phone(app)

    # WHEN registrations with bad fields arrive
    answers = [
        app.post("/devices", json={"platform": "FCM"}).status_code,
        app.post("/devices", json={"platform": "PIGEON", "token": phone.token}).status_code,
        app.post("/devices", json={"platform": "FCM", "token": "short"}).status_code,
        app.post("/devices", json={"platform": "FCM", "token": "x" * 5000}).status_code,
    ]

    # THEN each is a 4xx and the phone's device is still the only one, still pushed to
    assert all(400 <= status < 500 for status in answers), answers
    job = app.wait(app.create(sim_job(1))["jobId"])
    wait_for(lambda: any(job["jobId"] in push for push in phone.pushes()), what="the push")
