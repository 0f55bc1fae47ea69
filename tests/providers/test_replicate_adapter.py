"""Replicate adapter against documented response bodies served over local HTTP."""

from __future__ import annotations

import base64
import json
import time
import urllib.request

import pytest
import requests

from genjobs.providers import (
    CancelOutcome,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    SubmitRequest,
    TaskState,
    WebhookRejected,
)
from genjobs.providers.replicate import ReplicateProvider
from genjobs.providers.webhooks import signed_headers

from .provider_test_servers import Reply, StubServer, fixture_bytes, fixture_json

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VERSIONED = "replicate/hello-world:5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


def provider(stub: StubServer) -> ReplicateProvider:
    return ReplicateProvider(
        api_token="r8_test", webhook_secret=SECRET, base_url=stub.url, session=requests.Session()
    )


def request(model: str = VERSIONED, **kwargs: object) -> SubmitRequest:
    return SubmitRequest(model=model, input={"text": "Alice"}, idempotency_key="task-1", **kwargs)  # type: ignore[arg-type]


def test_submit_posts_version_input_and_webhook_filter(stub: StubServer) -> None:
    # GIVEN Replicate answers the documented create response
    stub.on("POST", "/v1/predictions", Reply(201, fixture_json("replicate/create_prediction.json")))
    # WHEN a task with a webhook and a deadline is submitted
    submission = provider(stub).submit(
        request(webhook_url="https://api.example.com/webhooks/replicate", cancel_after_seconds=600)
    )
    # THEN the documented body and headers were sent
    sent = stub.requests[0]
    assert sent.json() == {
        "input": {"text": "Alice"},
        "version": VERSIONED,
        "webhook": "https://api.example.com/webhooks/replicate",
        "webhook_events_filter": ["start", "completed"],
    }
    assert sent.headers["Authorization"] == "Bearer r8_test"
    assert sent.headers["Cancel-After"] == "600s"
    # AND the prediction id and its queued state come back
    assert submission.provider_id == "gm3qorzdhgbfurvjtvhg6dckhu"
    assert submission.status is not None
    assert submission.status.state is TaskState.QUEUED


def test_submit_of_an_official_model_uses_the_models_endpoint(stub: StubServer) -> None:
    stub.on(
        "POST",
        "/v1/models/black-forest-labs/flux-schnell/predictions",
        Reply(201, fixture_json("replicate/create_prediction.json")),
    )
    provider(stub).submit(request(model="black-forest-labs/flux-schnell"))
    assert stub.requests[0].json() == {"input": {"text": "Alice"}}


def test_processing_progress_is_the_last_progress_bar_in_the_logs(stub: StubServer) -> None:
    stub.on(
        "GET",
        "/v1/predictions/rrr4z55ocneqzikepnug6xezpe",
        Reply(200, fixture_json("replicate/prediction_processing_logs.json")),
    )
    status = provider(stub).status("rrr4z55ocneqzikepnug6xezpe")
    assert status.state is TaskState.RUNNING
    assert status.progress == 44.0
    assert status.outputs == []


def test_succeeded_prediction_returns_every_output_url(stub: StubServer) -> None:
    body = fixture_json("replicate/prediction_succeeded_images.json")
    stub.on("GET", "/v1/predictions/rrr4z55ocneqzikepnug6xezpe", Reply(200, body))
    status = provider(stub).status("rrr4z55ocneqzikepnug6xezpe")
    assert status.state is TaskState.SUCCEEDED
    assert status.progress == 100.0
    assert status.outputs == body["output"]


def inline(uri: str) -> tuple[str, bytes]:
    """A data: URI's media type and content, read as output custody reads it."""
    with urllib.request.urlopen(uri) as response:
        return response.headers.get_content_type(), response.read()


def test_text_output_is_an_output(stub: StubServer) -> None:
    # GIVEN the documented hello-world prediction, whose output is the text "hello Alice"
    stub.on(
        "GET",
        "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu",
        Reply(200, fixture_json("replicate/get_prediction_succeeded.json")),
    )
    # WHEN it is read
    status = provider(stub).status("gm3qorzdhgbfurvjtvhg6dckhu")
    # THEN the text is its one output, as a text file, not mistaken for a URL
    assert status.state is TaskState.SUCCEEDED
    assert [inline(uri) for uri in status.outputs] == [("text/plain", b"hello Alice")]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # a language model's token stream is one text, as Replicate's clients concatenate it
        (["Hello", ", ", "wörld"], [("text/plain", "Hello, wörld".encode())]),
        # an inline file (a prediction created with Prefer: wait returns data: URIs)
        (["data:image/png;base64,iVBORw0KGgo="], [("image/png", base64.b64decode("iVBORw0KGgo="))]),
        # structured output is kept as JSON
        (
            [["n02123597", "Siamese_cat", 0.88]],
            [("application/json", b'[["n02123597", "Siamese_cat", 0.88]]')],
        ),
        # files and text mixed: every one, in the model's order
        (
            {"caption": "a cat", "image": "data:image/png;base64,iVBORw0KGgo=", "note": "done"},
            [
                ("text/plain", b"a cat"),
                ("image/png", base64.b64decode("iVBORw0KGgo=")),
                ("text/plain", b"done"),
            ],
        ),
    ],
)
def test_inline_and_text_outputs_are_kept_in_the_models_order(
    stub: StubServer, output: object, expected: list[tuple[str, bytes]]
) -> None:
    body = {**fixture_json("replicate/get_prediction_succeeded.json"), "output": output}
    stub.on("GET", "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu", Reply(200, body))
    status = provider(stub).status("gm3qorzdhgbfurvjtvhg6dckhu")
    assert [inline(uri) for uri in status.outputs] == expected


def test_file_urls_and_text_keep_their_order(stub: StubServer) -> None:
    files = fixture_json("replicate/prediction_succeeded_images.json")["output"]
    body = {
        **fixture_json("replicate/get_prediction_succeeded.json"),
        "output": [files[0], "caption", *files[1:]],
    }
    stub.on("GET", "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu", Reply(200, body))
    outputs = provider(stub).status("gm3qorzdhgbfurvjtvhg6dckhu").outputs
    assert outputs[0] == files[0]
    assert inline(outputs[1]) == ("text/plain", b"caption")
    assert outputs[2:] == files[1:]


@pytest.mark.parametrize("output", [None, "", []])
def test_an_empty_output_is_no_output(stub: StubServer, output: object) -> None:
    body = {**fixture_json("replicate/get_prediction_succeeded.json"), "output": output}
    stub.on("GET", "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu", Reply(200, body))
    assert provider(stub).status("gm3qorzdhgbfurvjtvhg6dckhu").outputs == []


def test_a_stray_percentage_after_the_progress_bar_does_not_move_progress(stub: StubServer) -> None:
    # GIVEN a processing prediction whose last log line prints a percentage that is not a progress bar
    body = fixture_json("replicate/prediction_processing_logs.json")
    body["logs"] += "\nNSFW filter: 100% of images checked\nguidance rescale 70%"
    stub.on("GET", "/v1/predictions/rrr4z55ocneqzikepnug6xezpe", Reply(200, body))
    # WHEN it is read, THEN progress is the last progress-bar line's
    assert provider(stub).status("rrr4z55ocneqzikepnug6xezpe").progress == 44.0


def test_failed_prediction_carries_the_model_error(stub: StubServer) -> None:
    body = {**fixture_json("replicate/get_prediction_succeeded.json"), "status": "failed", "output": None}
    body["error"] = "CUDA out of memory"
    stub.on("GET", "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu", Reply(200, body))
    status = provider(stub).status("gm3qorzdhgbfurvjtvhg6dckhu")
    assert (status.state, status.error) == (TaskState.FAILED, "CUDA out of memory")


@pytest.mark.parametrize(
    ("fixture", "seconds"),
    [("replicate/rate_limited.json", 30.0), ("replicate/rate_limited_expected.json", 1.0)],
)
def test_throttled_create_reports_the_documented_reset_time(
    stub: StubServer, fixture: str, seconds: float
) -> None:
    # GIVEN a documented 429 body and no Retry-After header
    stub.on("POST", "/v1/predictions", Reply(429, fixture_bytes(fixture)))
    # WHEN submitting, THEN the wait comes from the body text
    with pytest.raises(ProviderThrottled) as caught:
        provider(stub).submit(request())
    assert caught.value.retry_after_seconds == seconds


def test_retry_after_header_wins_over_the_body_hint(stub: StubServer) -> None:
    stub.on(
        "POST",
        "/v1/predictions",
        Reply(429, fixture_bytes("replicate/rate_limited.json"), {"Retry-After": "7"}),
    )
    with pytest.raises(ProviderThrottled) as caught:
        provider(stub).submit(request())
    assert caught.value.retry_after_seconds == 7.0


@pytest.mark.parametrize("status_code", [500, 502, 503, 504])
def test_server_errors_are_transient(stub: StubServer, status_code: int) -> None:
    stub.on("GET", "/v1/predictions/p1", Reply(status_code, {"detail": "upstream"}))
    with pytest.raises(ProviderUnavailable) as caught:
        provider(stub).status("p1")
    assert caught.value.status_code == status_code


@pytest.mark.parametrize(
    ("status_code", "detail"),
    [(401, "Invalid token."), (402, "Insufficient credit"), (422, "Invalid version or not permitted")],
)
def test_client_errors_are_permanent_with_the_body_message(
    stub: StubServer, status_code: int, detail: str
) -> None:
    stub.on("POST", "/v1/predictions", Reply(status_code, {"detail": detail, "status": status_code}))
    with pytest.raises(ProviderRejected, match=detail) as caught:
        provider(stub).submit(request())
    assert caught.value.status_code == status_code


def test_read_timeout_is_transient_and_may_have_been_processed(stub: StubServer) -> None:
    stub.on("POST", "/v1/predictions", Reply(201, {}, delay=1.0))
    slow = ReplicateProvider(api_token="t", base_url=stub.url, session=requests.Session(), timeout=(1, 0.2))
    with pytest.raises(ProviderUnavailable, match="read timeout") as caught:
        slow.submit(request())
    assert caught.value.request_sent is True


def test_dropped_connection_is_transient(stub: StubServer) -> None:
    stub.on("GET", "/v1/predictions/p1", Reply(drop=True))
    with pytest.raises(ProviderUnavailable, match="connection error"):
        provider(stub).status("p1")


def test_refused_connection_is_transient() -> None:
    closed = ReplicateProvider(api_token="t", base_url="http://127.0.0.1:9", session=requests.Session())
    with pytest.raises(ProviderUnavailable):
        closed.status("p1")


def test_non_json_success_body_is_transient(stub: StubServer) -> None:
    stub.on("GET", "/v1/predictions/p1", Reply(200, b"<html>gateway</html>"))
    with pytest.raises(ProviderUnavailable, match="not JSON"):
        provider(stub).status("p1")


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (Reply(200, {"id": "p1", "status": "canceled"}), CancelOutcome.CANCELED),
        (Reply(200, {"id": "p1", "status": "succeeded", "output": []}), CancelOutcome.ALREADY_FINISHED),
        (Reply(200, {"id": "p1", "status": "processing"}), CancelOutcome.REQUESTED),
        (Reply(404, {"detail": "Not found."}), CancelOutcome.NOT_FOUND),
    ],
)
def test_cancel_reports_how_it_ended(stub: StubServer, answer: Reply, outcome: CancelOutcome) -> None:
    stub.on("POST", "/v1/predictions/p1/cancel", answer)
    assert provider(stub).cancel("p1") is outcome


def test_documented_webhook_body_verifies_and_maps(stub: StubServer) -> None:
    # GIVEN the documented webhook body, signed with the account secret
    body = fixture_bytes("replicate/webhook_starting.json")
    now = int(time.time())
    headers = signed_headers(SECRET, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", body, timestamp=now)
    # WHEN verified
    delivery = provider(stub).verify_webhook(headers, body, now=now)
    # THEN the delivery id is the webhook-id and the status is mapped
    assert delivery.delivery_id == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    assert delivery.provider_id == "ufawqhfynnddngldkgtslldrkq"
    assert delivery.status.state is TaskState.QUEUED


def test_webhook_with_forged_signature_is_rejected(stub: StubServer) -> None:
    body = fixture_bytes("replicate/webhook_starting.json")
    headers = signed_headers("whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ==", "msg_1", body)
    with pytest.raises(WebhookRejected):
        provider(stub).verify_webhook(headers, body)


def test_signed_but_malformed_webhook_is_rejected(stub: StubServer) -> None:
    body = json.dumps(["not", "a", "prediction"]).encode()
    with pytest.raises(WebhookRejected, match="JSON object"):
        provider(stub).verify_webhook(signed_headers(SECRET, "msg_1", body), body)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # nested deeper than the parser's recursion limit
        json.dumps({"id": "p1", "status": "processing", "logs": 12}).encode(),
        json.dumps({"id": "p1", "status": "processing", "logs": [1, None, {"a": 1}]}).encode(),
        json.dumps({"id": ["p1"], "status": None, "output": {"a": [1, 2]}}).encode(),
    ],
)
def test_signed_webhook_of_any_shape_is_mapped_or_refused_never_crashes(
    stub: StubServer, body: bytes
) -> None:
    # GIVEN a validly signed body of an unexpected shape
    headers = signed_headers(SECRET, "msg_1", body)
    # WHEN verified, THEN it is mapped or refused as malformed, never an unhandled error
    try:
        delivery = provider(stub).verify_webhook(headers, body)
    except WebhookRejected:
        return
    assert delivery.status.progress is None
