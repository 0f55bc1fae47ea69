"""The generic adapter configured for a team's own task server; registry and parsing helpers."""

from __future__ import annotations

import pytest
import requests

from genjobs.providers import (
    CancelOutcome,
    Provider,
    ProviderUnavailable,
    SubmitRequest,
    TaskState,
    WebhookRejected,
    build_provider,
)
from genjobs.providers.fal import FalProvider
from genjobs.providers.generic_http import GenericHttpProvider
from genjobs.providers.parsing import get_path, progress_from_logs
from genjobs.providers.replicate import ReplicateProvider
from genjobs.providers.simulator import SimulatorProvider
from genjobs.providers.webhooks import signed_headers

from .provider_test_servers import Reply, StubServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def team_server(stub: StubServer, **overrides: object) -> Provider:
    """A FastAPI-style server: POST /generate -> {task_id}; GET /tasks/{id} -> {state, result{...}}."""
    config: dict[str, object] = {
        "name": "team-gpu",
        "base_url": stub.url,
        "submit_url": "{base}/generate/{model}",
        "status_url": "{base}/tasks/{id}",
        "submit_body": "input",
        "id_path": "task_id",
        "status_path": "state",
        "status_map": {
            "PENDING": "QUEUED",
            "STARTED": "RUNNING",
            "SUCCESS": "SUCCEEDED",
            "FAILURE": "FAILED",
        },
        "progress_path": "meta.progress",
        "progress_is_fraction": True,
        "outputs_path": "result.files[*].url",
        "error_path": "error.message",
        "headers": {"X-Api-Key": "team-key"},
        "session": requests.Session(),
        **overrides,
    }
    return build_provider("generic", **config)


def test_submit_sends_the_input_with_idempotency_key_and_auth(stub: StubServer) -> None:
    stub.on("POST", "/generate/sdxl", Reply(202, {"task_id": "t-42"}))
    submission = team_server(stub).submit(
        SubmitRequest(model="sdxl", input={"prompt": "a cat"}, idempotency_key="task-7")
    )
    sent = stub.requests[0]
    assert submission.provider_id == "t-42"
    assert submission.status is None
    assert sent.json() == {"prompt": "a cat"}
    assert sent.headers["Idempotency-Key"] == "task-7"
    assert sent.headers["X-Api-Key"] == "team-key"


def test_status_reads_progress_outputs_and_errors_through_paths(stub: StubServer) -> None:
    stub.on(
        "GET",
        "/tasks/t-42",
        Reply(200, {"task_id": "t-42", "state": "STARTED", "meta": {"progress": 0.375}}),
        Reply(
            200,
            {
                "state": "SUCCESS",
                "result": {"files": [{"url": "https://cdn.example.com/a.glb"}, {"url": "https://cdn/b.png"}]},
            },
        ),
    )
    server = team_server(stub)
    running = server.status("t-42")
    done = server.status("t-42")
    assert (running.state, running.progress) == (TaskState.RUNNING, 37.5)
    assert done.state is TaskState.SUCCEEDED
    assert done.outputs == ["https://cdn.example.com/a.glb", "https://cdn/b.png"]


def test_failure_message_comes_from_the_error_path(stub: StubServer) -> None:
    stub.on("GET", "/tasks/t-1", Reply(200, {"state": "FAILURE", "error": {"message": "OOM on GPU 0"}}))
    status = team_server(stub).status("t-1")
    assert (status.state, status.error) == (TaskState.FAILED, "OOM on GPU 0")


def test_cancel_without_a_cancel_url_is_unsupported(stub: StubServer) -> None:
    assert team_server(stub).cancel("t-1") is CancelOutcome.UNSUPPORTED
    assert stub.requests == []


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (Reply(200, {"state": "STARTED"}), CancelOutcome.REQUESTED),
        (Reply(200, {"state": "SUCCESS"}), CancelOutcome.ALREADY_FINISHED),
        (Reply(202, b""), CancelOutcome.REQUESTED),
        (Reply(409, {"detail": "finished"}), CancelOutcome.ALREADY_FINISHED),
        (Reply(404, {"detail": "no such task"}), CancelOutcome.NOT_FOUND),
    ],
)
def test_cancel_with_a_cancel_url_reports_how_it_ended(
    stub: StubServer, answer: Reply, outcome: CancelOutcome
) -> None:
    stub.on("DELETE", "/tasks/t-1", answer)
    server = team_server(stub, cancel_url="{base}/tasks/{id}", cancel_method="DELETE")
    assert server.cancel("t-1") is outcome
    assert stub.requests[0].method == "DELETE"


def test_task_ids_are_escaped_in_url_templates(stub: StubServer) -> None:
    stub.on("GET", "/tasks/a%2Fb", Reply(200, {"state": "PENDING"}))
    assert team_server(stub).status("a/b").state is TaskState.QUEUED


def test_gateway_error_is_transient(stub: StubServer) -> None:
    stub.on("GET", "/tasks/t-1", Reply(502, b"Bad Gateway"))
    with pytest.raises(ProviderUnavailable):
        team_server(stub).status("t-1")


def test_generic_webhooks_need_a_configured_secret(stub: StubServer) -> None:
    body = b'{"task_id": "t-1", "state": "SUCCESS"}'
    with pytest.raises(WebhookRejected):
        team_server(stub).verify_webhook(signed_headers(SECRET, "m1", body), body)
    delivery = team_server(stub, webhook_secret=SECRET).verify_webhook(
        signed_headers(SECRET, "m1", body), body
    )
    assert (delivery.provider_id, delivery.status.state) == ("t-1", TaskState.SUCCEEDED)


def test_registry_builds_each_kind() -> None:
    assert isinstance(build_provider("simulator", base_url="http://127.0.0.1:1"), SimulatorProvider)
    assert isinstance(build_provider("replicate", api_token="r8"), ReplicateProvider)
    assert isinstance(build_provider("fal", api_token="k"), FalProvider)
    generic = build_provider("generic", base_url="http://x", status_map={"done": "SUCCEEDED"})
    assert isinstance(generic, GenericHttpProvider)
    assert all(
        isinstance(p, Provider)
        for p in (generic, build_provider("replicate", api_token="r8"), build_provider("fal", api_token="k"))
    )


def test_registry_refuses_unknown_kinds_and_missing_config() -> None:
    with pytest.raises(ValueError, match="unknown provider kind"):
        build_provider("openai-batch")
    with pytest.raises(ValueError, match="api_token"):
        build_provider("replicate")


def test_webhook_support_follows_the_configured_secret() -> None:
    assert build_provider("replicate", api_token="r8", webhook_secret=SECRET).supports_webhooks
    assert not build_provider("replicate", api_token="r8").supports_webhooks
    assert not build_provider("fal", api_token="k").supports_webhooks


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        (None, None),
        ("loading model\nno numbers here", None),
        ("  0%|          | 0/20\r 45%|████▌     | 9/20", 45.0),
        (["Processing", " 10%|█         | 2/20", " 30%|███       | 6/20 [00:02<00:03]"], 30.0),
        # a percentage outside a progress bar is not progress: it must not move the figure
        (" 40%|████      | 8/20\nsafety checker: 100% of images passed", 40.0),
        (" 40%|████      | 8/20\nlr warmup 5% done", 40.0),
        ("step 3: 12.5% done\nstep 4: 100%", None),
        ("accuracy 250% (nonsense) then 20%", None),
    ],
)
def test_progress_is_the_last_progress_bar_line(logs: str | list[str] | None, expected: float | None) -> None:
    assert progress_from_logs(logs) == expected


def test_paths_walk_keys_indexes_and_wildcards() -> None:
    document = {"a": {"items": [{"url": "u1"}, {"url": "u2"}, {}]}}
    assert get_path(document, "a.items[*].url") == ["u1", "u2"]
    assert get_path(document, "a.items[1].url") == ["u2"]
    assert get_path(document, "a.missing.url") == []
    assert get_path(document, "a.items[9]") == []
