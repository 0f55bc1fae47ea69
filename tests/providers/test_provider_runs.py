"""Provider.run: one synchronous call whose answer carries the outputs (an LLM's text, TTS audio),
against the simulator over real HTTP, and each adapter's request against a scripted server."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.request import urlopen

import pytest
import requests

from genjobs.providers import (
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    SubmitRequest,
    SyncDeadlinePassed,
    TaskState,
    build_provider,
)
from genjobs.providers.simulator import SimulatorProvider
from genjobs_local.simulator import SimulatorServer

from .provider_test_servers import SIM_SCALE, Reply, StubServer


def request(model: str, key: str = "job-1:0", **model_input: Any) -> SubmitRequest:
    return SubmitRequest(model=model, input=model_input, idempotency_key=key)


def inline(uri: str) -> tuple[str, bytes]:
    """The content type and bytes of a data: URI, read the way output custody reads it."""
    with urlopen(uri) as response:
        return response.headers.get_content_type(), response.read()


# ---- against the simulator --------------------------------------------------------------------


def test_a_language_model_answers_its_text_in_the_same_call(provider: SimulatorProvider) -> None:
    # WHEN the LLM is run with a 5 s deadline
    status = provider.run(request("sim-llm", prompt="Say hello"), timeout_seconds=5)
    # THEN the answer is its end: a success whose one output is its JSON text, inline
    assert (status.state, status.progress, len(status.outputs)) == (TaskState.SUCCEEDED, 100.0, 1)
    content_type, body = inline(status.outputs[0])
    assert content_type == "application/json"
    assert json.loads(body) == {"text": "sim-llm answers: Say hello"}


def test_speech_comes_back_inline_as_a_wav_file(provider: SimulatorProvider) -> None:
    status = provider.run(request("sim-tts", text="Once upon a time."), timeout_seconds=5)
    assert status.state is TaskState.SUCCEEDED
    assert status.outputs[0].startswith("data:audio/wav;base64,")
    content_type, body = inline(status.outputs[0])
    assert content_type == "audio/wav"
    assert body[:4] == b"RIFF"
    assert body[8:12] == b"WAVE"


def test_an_image_model_answers_its_png_inline(provider: SimulatorProvider) -> None:
    status = provider.run(request("sim-image-sync", prompt="a cat"), timeout_seconds=5)
    content_type, body = inline(status.outputs[0])
    assert (status.state, content_type) == (TaskState.SUCCEEDED, "image/png")
    assert body.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_failed_run_is_answered_not_raised(provider: SimulatorProvider) -> None:
    status = provider.run(request("sim-llm", prompt="x", sim={"fail": "content policy"}), timeout_seconds=5)
    assert (status.state, status.error, status.outputs) == (TaskState.FAILED, "content policy", [])


def test_a_throttled_run_says_when_to_come_back(provider: SimulatorProvider, sim: SimulatorServer) -> None:
    with pytest.raises(ProviderThrottled) as caught:
        provider.run(request("sim-llm", prompt="x", sim={"throttle": 1, "retryAfter": 30}), timeout_seconds=5)
    assert caught.value.retry_after_seconds == pytest.approx(30 * SIM_SCALE)
    assert sim.stats()["predictions_created"] == 0


def test_a_server_error_is_transient_and_the_retry_succeeds(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    run = request("sim-llm", prompt="x", sim={"serverErrors": 1})
    with pytest.raises(ProviderUnavailable) as caught:
        provider.run(run, timeout_seconds=5)
    assert caught.value.status_code == 500
    assert provider.run(run, timeout_seconds=5).state is TaskState.SUCCEEDED


def test_a_rejected_run_is_permanent(provider: SimulatorProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        provider.run(request("sim-llm", prompt="x", sim={"latencyy": 1}), timeout_seconds=5)
    assert caught.value.status_code == 422


def test_a_run_past_its_deadline_is_transient_and_its_retry_waits_on_the_same_prediction(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    # GIVEN a model that takes 100 s
    slow = request("sim-llm", prompt="x", sim={"queueSeconds": 0, "latency": 100})
    # WHEN it is run with a 2 s deadline
    with pytest.raises(SyncDeadlinePassed) as caught:
        provider.run(slow, timeout_seconds=2)
    # THEN the caller learns it is still running (a ProviderUnavailable: retry later)
    assert isinstance(caught.value, ProviderUnavailable)
    assert caught.value.status is not None
    assert caught.value.status.state is TaskState.RUNNING
    # AND running it again waits on the same prediction instead of paying for a second one
    with pytest.raises(SyncDeadlinePassed) as again:
        provider.run(slow, timeout_seconds=2)
    assert again.value.provider_id == caught.value.provider_id
    assert sim.stats()["creates_per_key"] == {"job-1:0": 1}


def test_a_run_waits_for_a_task_that_ends_within_the_deadline(provider: SimulatorProvider) -> None:
    # 30 s of work (0.6 s of wall time) inside a 60 s deadline: the one call sees its end
    status = provider.run(request("sim-llm", prompt="x", sim={"latency": 30}), timeout_seconds=60)
    assert status.state is TaskState.SUCCEEDED


# ---- each adapter's synchronous request -------------------------------------------------------


def test_replicate_run_asks_to_wait_at_most_60_seconds(stub: StubServer) -> None:
    stub.on(
        "POST",
        "/v1/models/meta/llama/predictions",
        Reply(201, {"id": "p1", "status": "succeeded", "output": ["Hel", "lo"]}),
    )
    replicate = build_provider("replicate", api_token="r8_x", base_url=stub.url, session=requests.Session())
    status = replicate.run(request("meta/llama", prompt="hi"), timeout_seconds=300)
    assert stub.requests[0].headers["Prefer"] == "wait=60"
    assert (status.state, inline(status.outputs[0])) == (TaskState.SUCCEEDED, ("text/plain", b"Hello"))


def test_replicate_run_still_processing_at_the_deadline_names_the_prediction(stub: StubServer) -> None:
    stub.on("POST", "/v1/models/meta/llama/predictions", Reply(201, {"id": "p2", "status": "processing"}))
    replicate = build_provider("replicate", api_token="r8_x", base_url=stub.url, session=requests.Session())
    with pytest.raises(SyncDeadlinePassed) as caught:
        replicate.run(request("meta/llama", prompt="hi"), timeout_seconds=2.5)
    # Whole seconds within the deadline.
    assert stub.requests[0].headers["Prefer"] == "wait=2"
    assert caught.value.provider_id == "p2"


def test_generic_run_uses_its_run_url_and_keeps_inline_outputs(stub: StubServer) -> None:
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    stub.on("POST", "/generate-now/sdxl", Reply(200, {"task_id": "t1", "state": "done", "files": [png]}))
    team = build_provider(
        "generic",
        base_url=stub.url,
        submit_url="{base}/generate/{model}",
        run_url="{base}/generate-now/{model}",
        status_map={"done": "SUCCEEDED"},
        status_path="state",
        outputs_path="files",
        session=requests.Session(),
    )
    status = team.run(request("sdxl", prompt="a cat"), timeout_seconds=10)
    sent = stub.requests[0]
    assert (sent.headers["Prefer"], sent.headers["Idempotency-Key"]) == ("wait=10", "job-1:0")
    assert (status.state, status.outputs) == (TaskState.SUCCEEDED, [png])


def test_fal_has_no_synchronous_mode() -> None:
    fal = build_provider("fal", api_token="key")
    with pytest.raises(ProviderRejected, match="no synchronous mode"):
        fal.run(request("fal-ai/flux/dev", prompt="x"), timeout_seconds=5)
