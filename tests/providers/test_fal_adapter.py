"""fal queue adapter against documented response bodies served over local HTTP."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from genjobs.providers import CancelOutcome, ProviderRejected, SubmitRequest, TaskState, WebhookRejected
from genjobs.providers.fal import FalProvider

from .provider_test_servers import Reply, StubServer, fixture_bytes, fixture_json

REQUEST_ID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
PROVIDER_ID = f"fal-ai/fast-sdxl::{REQUEST_ID}"
REQUEST_PATH = f"/fal-ai/fast-sdxl/requests/{REQUEST_ID}"
SIGNING_KEY = Ed25519PrivateKey.generate()


def jwk(private: Ed25519PrivateKey) -> dict[str, str]:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def provider(stub: StubServer) -> FalProvider:
    return FalProvider(
        api_key="fal-key",
        webhook_public_keys={"keys": [jwk(SIGNING_KEY)]},
        base_url=stub.url,
        session=requests.Session(),
    )


def fal_signed(
    body: bytes, request_id: str, timestamp: int, key: Ed25519PrivateKey = SIGNING_KEY
) -> dict[str, str]:
    """Headers as fal sends them: ED25519 over request id, user id, timestamp and the body's sha256."""
    message = "\n".join([request_id, "user-1", str(timestamp), hashlib.sha256(body).hexdigest()]).encode()
    return {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": "user-1",
        "X-Fal-Webhook-Timestamp": str(timestamp),
        "X-Fal-Webhook-Signature": key.sign(message).hex(),
    }


def test_submit_posts_the_input_with_key_auth_and_webhook_parameter(stub: StubServer) -> None:
    # GIVEN fal answers the documented submit response
    stub.on("POST", "/fal-ai/fast-sdxl", Reply(200, fixture_json("fal/submit.json")))
    # WHEN a task is submitted with a webhook
    submission = provider(stub).submit(
        SubmitRequest(
            model="fal-ai/fast-sdxl",
            input={"prompt": "a cat"},
            idempotency_key="task-1",
            webhook_url="https://api.example.com/webhooks/fal",
        )
    )
    # THEN the input is the body, the key authorises, the webhook is a query parameter
    sent = stub.requests[0]
    assert sent.json() == {"prompt": "a cat"}
    assert sent.headers["Authorization"] == "Key fal-key"
    assert sent.query["fal_webhook"] == ["https://api.example.com/webhooks/fal"]
    # AND the provider id keeps the app id that status and cancel URLs need
    assert submission.provider_id == PROVIDER_ID
    assert submission.status is not None
    assert submission.status.state is TaskState.QUEUED


def test_subpath_is_dropped_from_status_urls(stub: StubServer) -> None:
    stub.on("POST", "/fal-ai/flux/dev", Reply(200, {"request_id": "r1"}))
    stub.on("GET", "/fal-ai/flux/requests/r1/status", Reply(200, fixture_json("fal/status_in_queue.json")))
    fal = provider(stub)
    submission = fal.submit(SubmitRequest(model="fal-ai/flux/dev", input={}, idempotency_key="k"))
    assert fal.status(submission.provider_id).state is TaskState.QUEUED


def submitted_with_urls(stub: StubServer, model: str, app_path: str, request_id: str) -> Reply:
    """fal's submit answer for `model`, its request URLs on the queue host (as fal returns them)."""
    request_url = f"{stub.url}/{app_path}/requests/{request_id}"
    return Reply(
        200,
        {
            "request_id": request_id,
            "response_url": request_url,
            "status_url": f"{request_url}/status",
            "cancel_url": f"{request_url}/cancel",
        },
    )


@pytest.mark.parametrize(
    ("model", "app_path"),
    [
        ("workflows/acme/portrait-flow", "workflows/acme/portrait-flow"),
        ("comfy/acme/upscaler/hd", "comfy/acme/upscaler"),
        ("fal-ai/flux/dev", "fal-ai/flux"),
    ],
)
def test_status_result_and_cancel_use_the_urls_that_submit_returned(
    stub: StubServer, model: str, app_path: str
) -> None:
    # GIVEN fal answers a submit with its request URLs
    request_path = f"/{app_path}/requests/r1"
    stub.on("POST", f"/{model}", submitted_with_urls(stub, model, app_path, "r1"))
    stub.on(
        "GET",
        f"{request_path}/status",
        Reply(200, {"status": "COMPLETED", "response_url": stub.url + request_path}),
    )
    stub.on("GET", request_path, Reply(200, fixture_json("fal/result_fast_sdxl.json")))
    stub.on("PUT", f"{request_path}/cancel", Reply(400, {"status": "ALREADY_COMPLETED"}))
    fal = provider(stub)

    # WHEN the task is submitted, then polled and cancelled by its provider id (all the task keeps)
    provider_id = fal.submit(SubmitRequest(model=model, input={}, idempotency_key="k")).provider_id
    status = fal.status(provider_id)
    cancelled = fal.cancel(provider_id)

    # THEN every call went to the URLs submit returned, the app's whole path kept
    assert [(r.method, r.path) for r in stub.requests[1:]] == [
        ("GET", f"{request_path}/status"),
        ("GET", request_path),
        ("PUT", f"{request_path}/cancel"),
    ]
    assert status.state is TaskState.SUCCEEDED
    assert status.outputs
    assert cancelled is CancelOutcome.ALREADY_FINISHED


@pytest.mark.parametrize(
    ("model", "app_path"),
    [
        ("workflows/acme/portrait-flow/v2", "workflows/acme/portrait-flow"),
        ("comfy/acme/upscaler", "comfy/acme/upscaler"),
    ],
)
def test_a_namespaced_app_keeps_namespace_owner_and_alias_when_submit_returns_no_urls(
    stub: StubServer, model: str, app_path: str
) -> None:
    stub.on("POST", f"/{model}", Reply(200, {"request_id": "r2"}))
    stub.on("GET", f"/{app_path}/requests/r2/status", Reply(200, fixture_json("fal/status_in_queue.json")))
    fal = provider(stub)
    submission = fal.submit(SubmitRequest(model=model, input={}, idempotency_key="k"))
    assert fal.status(submission.provider_id).state is TaskState.QUEUED


def test_request_urls_on_another_host_are_not_sent_the_key(stub: StubServer) -> None:
    # GIVEN a submit answer whose URLs point at a host other than the configured queue
    stub.on("POST", "/fal-ai/flux/dev", Reply(200, fixture_json("fal/submit.json") | {"request_id": "r3"}))
    stub.on("GET", "/fal-ai/flux/requests/r3/status", Reply(200, fixture_json("fal/status_in_queue.json")))
    fal = provider(stub)
    # WHEN the task is polled, THEN the configured queue host is asked
    submission = fal.submit(SubmitRequest(model="fal-ai/flux/dev", input={}, idempotency_key="k"))
    assert fal.status(submission.provider_id).state is TaskState.QUEUED


def test_in_queue_reports_the_queue_position(stub: StubServer) -> None:
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, fixture_json("fal/status_in_queue.json")))
    status = provider(stub).status(PROVIDER_ID)
    assert (status.state, status.queue_position) == (TaskState.QUEUED, 0)
    assert stub.requests[0].query["logs"] == ["1"]


def test_in_progress_progress_comes_from_the_logs(stub: StubServer) -> None:
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, fixture_json("fal/status_in_progress.json")))
    status = provider(stub).status(PROVIDER_ID)
    assert (status.state, status.progress) == (TaskState.RUNNING, 60.0)


def test_completed_fetches_the_result_and_returns_its_file_urls(stub: StubServer) -> None:
    # GIVEN a completed request whose result is at the response URL the status names
    completed = fixture_json("fal/status_completed.json")
    completed["response_url"] = stub.url + REQUEST_PATH
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, completed))
    stub.on("GET", REQUEST_PATH, Reply(200, fixture_json("fal/result_fast_sdxl.json")))
    # WHEN polled
    status = provider(stub).status(PROVIDER_ID)
    # THEN it succeeded with the image URL
    assert status.state is TaskState.SUCCEEDED
    assert status.outputs == ["https://fal.media/files/elephant/Q0cBU1Zx0zL2BI8nxPjxp.jpeg"]


def test_every_file_url_of_a_mixed_result_is_an_output(stub: StubServer) -> None:
    result = {
        "video": {"url": "https://fal.media/v.mp4", "content_type": "video/mp4"},
        "audio_file": {"url": "https://fal.media/a.wav"},
        "model_mesh": {"url": "https://fal.media/m.glb", "file_size": 10},
        "image_url": "https://example.com/input-echo.png",
    }
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, {"status": "COMPLETED"}))
    stub.on("GET", REQUEST_PATH, Reply(200, result))
    status = provider(stub).status(PROVIDER_ID)
    assert status.outputs == ["https://fal.media/v.mp4", "https://fal.media/a.wav", "https://fal.media/m.glb"]


def test_inline_files_of_a_sync_mode_result_are_outputs(stub: StubServer) -> None:
    # GIVEN a result of a request made with sync_mode, whose files come back as data: URIs
    png = "data:image/png;base64,iVBORw0KGgo="
    result = {"images": [{"url": png, "content_type": "image/png"}, {"url": "https://fal.media/b.png"}]}
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, {"status": "COMPLETED"}))
    stub.on("GET", REQUEST_PATH, Reply(200, result))
    # WHEN it is read, THEN each file is an output, in order, instead of "completed without any output"
    status = provider(stub).status(PROVIDER_ID)
    assert (status.state, status.outputs) == (TaskState.SUCCEEDED, [png, "https://fal.media/b.png"])


def test_completed_with_a_model_error_fails(stub: StubServer) -> None:
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, {"status": "COMPLETED"}))
    stub.on(
        "GET", REQUEST_PATH, Reply(422, {"detail": [{"msg": "field required", "loc": ["body", "prompt"]}]})
    )
    status = provider(stub).status(PROVIDER_ID)
    assert status.state is TaskState.FAILED
    assert status.error is not None
    assert "field required" in status.error


def test_completed_status_with_error_field_fails_without_fetching(stub: StubServer) -> None:
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, {"status": "COMPLETED", "error": "Runner crashed"}))
    status = provider(stub).status(PROVIDER_ID)
    assert (status.state, status.error) == (TaskState.FAILED, "Runner crashed")
    assert len(stub.requests) == 1


def test_unknown_fal_status_fails_the_task(stub: StubServer) -> None:
    stub.on("GET", f"{REQUEST_PATH}/status", Reply(200, {"status": "SUSPENDED"}))
    status = provider(stub).status(PROVIDER_ID)
    assert status.state is TaskState.FAILED
    assert status.raw_status == "SUSPENDED"


def test_malformed_provider_id_is_rejected(stub: StubServer) -> None:
    with pytest.raises(ProviderRejected):
        provider(stub).status(REQUEST_ID)


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (Reply(202, {"status": "CANCELLATION_REQUESTED"}), CancelOutcome.REQUESTED),
        (Reply(200, {"status": "OK"}), CancelOutcome.CANCELED),
        (Reply(400, {"status": "ALREADY_COMPLETED"}), CancelOutcome.ALREADY_FINISHED),
        (Reply(404, {"status": "NOT_FOUND"}), CancelOutcome.NOT_FOUND),
    ],
)
def test_cancel_maps_every_documented_answer(stub: StubServer, answer: Reply, outcome: CancelOutcome) -> None:
    stub.on("PUT", f"{REQUEST_PATH}/cancel", answer)
    assert provider(stub).cancel(PROVIDER_ID) is outcome
    assert stub.requests[0].method == "PUT"


def test_documented_ok_webhook_verifies_with_the_configured_key(stub: StubServer) -> None:
    body = fixture_bytes("fal/webhook_ok.json")
    now = int(time.time())
    request_id = "123e4567-e89b-12d3-a456-426614174000"
    delivery = provider(stub).verify_webhook(fal_signed(body, request_id, now), body, now=now)
    assert delivery.status.state is TaskState.SUCCEEDED
    assert delivery.status.outputs == ["https://url.to/image.png"]
    assert delivery.delivery_id == f"{request_id}:OK"
    # AND the delivery matches the task whose submit returned the composite id
    assert delivery.matches(f"fal-ai/flux::{request_id}")
    assert not delivery.matches("fal-ai/flux::another-request")


def test_documented_error_webhook_fails_the_task(stub: StubServer) -> None:
    body = fixture_bytes("fal/webhook_error.json")
    now = int(time.time())
    delivery = provider(stub).verify_webhook(
        fal_signed(body, "123e4567-e89b-12d3-a456-426614174000", now), body, now=now
    )
    assert (delivery.status.state, delivery.status.error) == (TaskState.FAILED, "Invalid status code: 422")


def test_payload_error_webhook_says_to_poll_for_outputs(stub: StubServer) -> None:
    body = fixture_bytes("fal/webhook_payload_error.json")
    now = int(time.time())
    delivery = provider(stub).verify_webhook(
        fal_signed(body, "123e4567-e89b-12d3-a456-426614174000", now), body, now=now
    )
    assert delivery.status.outputs == []
    assert delivery.status.error is not None
    assert "poll status()" in delivery.status.error


def test_webhook_signed_by_another_key_is_rejected(stub: StubServer) -> None:
    body = fixture_bytes("fal/webhook_ok.json")
    now = int(time.time())
    headers = fal_signed(body, "123e4567-e89b-12d3-a456-426614174000", now, key=Ed25519PrivateKey.generate())
    with pytest.raises(WebhookRejected, match="no configured key"):
        provider(stub).verify_webhook(headers, body, now=now)


def test_stale_fal_webhook_is_rejected(stub: StubServer) -> None:
    body = fixture_bytes("fal/webhook_ok.json")
    now = int(time.time())
    headers = fal_signed(body, "123e4567-e89b-12d3-a456-426614174000", now - 301)
    with pytest.raises(WebhookRejected, match="tolerance"):
        provider(stub).verify_webhook(headers, body, now=now)


def test_fal_webhook_whose_body_names_another_request_is_rejected(stub: StubServer) -> None:
    body = fixture_bytes("fal/webhook_ok.json")
    now = int(time.time())
    with pytest.raises(WebhookRejected, match="differs"):
        provider(stub).verify_webhook(fal_signed(body, "someone-else", now), body, now=now)


def test_fal_webhook_without_headers_is_rejected(stub: StubServer) -> None:
    with pytest.raises(WebhookRejected, match="missing"):
        provider(stub).verify_webhook({}, fixture_bytes("fal/webhook_ok.json"))


def test_pem_public_key_is_accepted(stub: StubServer) -> None:
    pem = (
        SIGNING_KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    fal = FalProvider(api_key="k", webhook_public_keys=[pem], base_url=stub.url)
    body = fixture_bytes("fal/webhook_ok.json")
    now = int(time.time())
    request_id = "123e4567-e89b-12d3-a456-426614174000"
    assert fal.verify_webhook(fal_signed(body, request_id, now), body, now=now).provider_id == request_id
