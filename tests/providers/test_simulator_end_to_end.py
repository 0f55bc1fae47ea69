"""The simulator server driven end to end through the simulator adapter, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from genjobs.providers import (
    CancelOutcome,
    ProviderRejected,
    ProviderStatus,
    ProviderThrottled,
    ProviderUnavailable,
    SubmitRequest,
    TaskState,
)
from genjobs.providers.simulator import SimulatorProvider
from genjobs_local.simulator import SimulatorServer

from .provider_test_servers import SIM_SCALE as SCALE
from .provider_test_servers import WebhookSink


def task(key: str = "task-1", hook_url: str | None = None, **sim_options: Any) -> SubmitRequest:
    return SubmitRequest(
        model="sim/image",
        input={"prompt": "a cat", "sim": sim_options},
        idempotency_key=key,
        webhook_url=hook_url,
    )


def poll_until(
    provider: SimulatorProvider,
    provider_id: str,
    done: Callable[[ProviderStatus], bool],
    timeout: float = 5.0,
) -> list[ProviderStatus]:
    seen: list[ProviderStatus] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(provider.status(provider_id))
        if done(seen[-1]):
            return seen
        time.sleep(0.005)
    raise AssertionError(f"condition not reached; last status {seen[-1] if seen else None}")


def eventually(check: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Counters are updated after the receiver answered: give the sender a moment."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def terminal(status: ProviderStatus) -> bool:
    return status.state.is_terminal


def test_submitted_task_queues_runs_with_progress_and_succeeds_with_downloadable_outputs(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    # GIVEN a task that queues 1 s, runs 100 s in 4 progress steps and makes 2 outputs (each step
    # lasts 0.5 s of the test: a status read on a loaded machine takes longer than a 20 s task's)
    submission = provider.submit(task(queueSeconds=1, latency=100, progressSteps=4, outputs=2))
    assert submission.status is not None
    assert submission.status.state is TaskState.QUEUED
    # WHEN it is polled to the end
    seen = poll_until(provider, submission.provider_id, terminal, timeout=15.0)
    # THEN it went through running with stepwise progress and succeeded with two outputs
    running = sorted({s.progress for s in seen if s.state is TaskState.RUNNING and s.progress is not None})
    assert set(running) <= {0.0, 25.0, 50.0, 75.0}
    assert len(running) >= 2
    final = seen[-1]
    assert final.state is TaskState.SUCCEEDED
    assert final.progress == 100.0
    assert len(final.outputs) == 2
    # AND each output is a real, distinct PNG
    files = [requests.get(url, timeout=5) for url in final.outputs]
    assert all(f.status_code == 200 and f.headers["Content-Type"] == "image/png" for f in files)
    assert all(f.content.startswith(b"\x89PNG\r\n\x1a\n") for f in files)
    assert files[0].content != files[1].content


def test_failing_task_ends_failed_with_its_message(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(queueSeconds=0, latency=1, fail="NSFW content detected"))
    final = poll_until(provider, submission.provider_id, terminal)[-1]
    assert (final.state, final.error, final.outputs) == (TaskState.FAILED, "NSFW content detected", [])


def test_cancel_stops_a_running_task_and_it_stays_canceled(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    # GIVEN a running task
    submission = provider.submit(task(queueSeconds=0, latency=50))
    poll_until(provider, submission.provider_id, lambda s: s.state is TaskState.RUNNING)
    # WHEN it is canceled
    outcome = provider.cancel(submission.provider_id)
    # THEN it is canceled at once and never finishes afterwards
    assert outcome is CancelOutcome.CANCELED
    time.sleep(60 * SCALE)
    final = provider.status(submission.provider_id)
    assert final.state is TaskState.CANCELED
    assert final.outputs == []
    assert sim.stats()["cancels"] == 1
    assert sim.stats()["predictions_created"] == 1


def test_cancel_after_the_end_keeps_the_result(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(queueSeconds=0, latency=0.5))
    poll_until(provider, submission.provider_id, terminal)
    assert provider.cancel(submission.provider_id) is CancelOutcome.ALREADY_FINISHED
    assert provider.status(submission.provider_id).state is TaskState.SUCCEEDED


def test_cancel_of_an_unknown_prediction_is_not_found(provider: SimulatorProvider) -> None:
    assert provider.cancel("does-not-exist") is CancelOutcome.NOT_FOUND


def test_throttled_submits_then_one_prediction_for_the_key(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    # GIVEN a task whose first 3 submits are throttled with a 30 s reset
    request = task(key="throttled-task", throttle=3, retryAfter=30)
    # WHEN it is submitted until accepted, as the upstream retry would
    waits = []
    for _ in range(3):
        with pytest.raises(ProviderThrottled) as caught:
            provider.submit(request)
        waits.append(caught.value.retry_after_seconds)
    provider.submit(request)
    # THEN every 429 said when to come back (scaled), and exactly one prediction exists
    assert waits == [pytest.approx(30 * SCALE)] * 3
    stats = sim.stats()
    assert stats["throttled"] == 3
    assert stats["creates_per_key"] == {"throttled-task": 1}


def test_server_errors_on_submit_are_transient_and_create_nothing(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    request = task(key="flaky", serverErrors=2)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            provider.submit(request)
    assert sim.stats()["predictions_created"] == 0
    provider.submit(request)
    assert sim.stats()["predictions_created"] == 1


def test_lost_create_response_retried_with_the_same_key_reuses_the_prediction(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    # GIVEN a create the simulator processes but whose answer is lost
    request = task(key="lost-answer", dropResponses=1)
    with pytest.raises(ProviderUnavailable) as caught:
        provider.submit(request)
    assert caught.value.request_sent is True
    # WHEN the submit is retried with the same idempotency key
    first = provider.submit(request)
    second = provider.submit(request)
    # THEN there is still one paid prediction
    assert first.provider_id == second.provider_id
    assert sim.stats()["creates_per_key"] == {"lost-answer": 1}
    assert sim.stats()["predictions_created"] == 1


def test_same_key_with_a_different_request_is_rejected(provider: SimulatorProvider) -> None:
    provider.submit(task(key="k-reused", latency=1))
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(task(key="k-reused", latency=2))
    assert caught.value.status_code == 409


def test_different_keys_are_different_predictions(provider: SimulatorProvider, sim: SimulatorServer) -> None:
    assert provider.submit(task(key="a")).provider_id != provider.submit(task(key="b")).provider_id
    assert sim.stats()["predictions_created"] == 2


def test_unreachable_provider_is_a_transient_connection_error(
    provider: SimulatorProvider, sim: SimulatorServer
) -> None:
    with pytest.raises(ProviderUnavailable, match="connection"):
        provider.submit(task(unreachable=True))
    assert sim.stats()["predictions_created"] == 0


def test_status_errors_are_transient_then_polling_recovers(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(statusErrors=2, queueSeconds=0, latency=0.5))
    for _ in range(2):
        with pytest.raises(ProviderUnavailable) as caught:
            provider.status(submission.provider_id)
        assert caught.value.status_code == 500
    assert poll_until(provider, submission.provider_id, terminal)[-1].state is TaskState.SUCCEEDED


def test_unknown_raw_status_ends_the_task_as_failed(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(rawStatus="weird"))
    status = provider.status(submission.provider_id)
    assert status.state is TaskState.FAILED
    assert status.raw_status == "weird"
    assert status.error is not None
    assert "weird" in status.error


def test_never_finishing_task_keeps_running_below_100(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(queueSeconds=0, latency=1, neverFinish=True, progressSteps=4))
    time.sleep(5 * SCALE)
    status = provider.status(submission.provider_id)
    assert (status.state, status.progress) == (TaskState.RUNNING, 75.0)


def test_queued_tasks_report_their_position(provider: SimulatorProvider) -> None:
    first = provider.submit(task(key="q1", queueSeconds=100))
    second = provider.submit(task(key="q2", queueSeconds=100))
    assert provider.status(first.provider_id).queue_position == 0
    assert provider.status(second.provider_id).queue_position == 1


def test_time_scale_stretches_wall_time(sim: SimulatorServer) -> None:
    # GIVEN the same 2 s task on a fast and a ten times slower simulator
    slow_sim = SimulatorServer(time_scale=SCALE * 10).start()
    try:
        durations = []
        for server in (sim, slow_sim):
            adapter = SimulatorProvider(server.base_url)
            started = time.monotonic()
            submission = adapter.submit(task(key=f"scale-{server.time_scale}", queueSeconds=0, latency=2))
            poll_until(adapter, submission.provider_id, terminal)
            durations.append(time.monotonic() - started)
    finally:
        slow_sim.stop()
    # THEN wall time follows schedule * time_scale
    fast, slow = durations
    assert 2 * SCALE <= fast < 2 * SCALE * 10
    assert slow >= 2 * SCALE * 10


def test_outputs_of_a_requested_size_and_format(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(queueSeconds=0, latency=0, outputBytes=4096, outputFormat="mp4"))
    final = poll_until(provider, submission.provider_id, terminal)[-1]
    response = requests.get(final.outputs[0], timeout=5)
    assert final.outputs[0].endswith(".mp4")
    assert (len(response.content), response.headers["Content-Type"]) == (4096, "video/mp4")
    assert requests.get(final.outputs[0], timeout=5).content == response.content  # deterministic


def test_truncated_output_download_breaks(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(queueSeconds=0, latency=0, outputBytes=100_000, truncateOutput=True))
    final = poll_until(provider, submission.provider_id, terminal)[-1]
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(final.outputs[0], timeout=5)


def test_outputs_expire(provider: SimulatorProvider) -> None:
    submission = provider.submit(task(queueSeconds=0, latency=0, expireOutputs=20))
    final = poll_until(provider, submission.provider_id, terminal)[-1]
    assert requests.get(final.outputs[0], timeout=5).status_code == 200
    time.sleep(25 * SCALE)
    assert requests.get(final.outputs[0], timeout=5).status_code == 404


def test_file_of_any_size_can_be_served_for_download_tests(sim: SimulatorServer) -> None:
    response = requests.get(f"{sim.base_url}/files/any/0.bin?size=12345", timeout=5)
    assert len(response.content) == 12345


def test_invalid_sim_option_is_rejected(provider: SimulatorProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        provider.submit(task(latencyy=3))
    assert caught.value.status_code == 422


def test_webhooks_are_signed_and_verify_through_the_adapter(
    provider: SimulatorProvider, sink: WebhookSink, sim: SimulatorServer
) -> None:
    # GIVEN a task with a webhook URL
    submission = provider.submit(task(hook_url=sink.url, queueSeconds=0.5, latency=1))
    # WHEN it runs to the end
    received = sink.wait_for(2)
    # THEN "running" then "succeeded" arrived, each verifiable and naming the prediction
    deliveries = [provider.verify_webhook(r.headers, r.body) for r in received]
    assert [d.status.state for d in deliveries] == [TaskState.RUNNING, TaskState.SUCCEEDED]
    assert {d.provider_id for d in deliveries} == {submission.provider_id}
    assert len({d.delivery_id for d in deliveries}) == 2
    assert deliveries[-1].status.outputs
    assert eventually(lambda: sim.stats()["webhook_deliveries"] == 2)


def test_duplicated_webhooks_share_their_delivery_id(provider: SimulatorProvider, sink: WebhookSink) -> None:
    provider.submit(task(hook_url=sink.url, queueSeconds=0, latency=0.5, webhook={"duplicate": True}))
    received = sink.wait_for(4)
    ids = [provider.verify_webhook(r.headers, r.body).delivery_id for r in received]
    assert len(ids) == 4
    assert len(set(ids)) == 2


def test_out_of_order_webhooks_deliver_the_terminal_one_first(
    provider: SimulatorProvider, sink: WebhookSink
) -> None:
    provider.submit(task(hook_url=sink.url, queueSeconds=0, latency=1, webhook={"outOfOrder": True}))
    received = sink.wait_for(2)
    states = [provider.verify_webhook(r.headers, r.body).status.state for r in received]
    assert states == [TaskState.SUCCEEDED, TaskState.RUNNING]


def test_dropped_webhooks_never_arrive_but_polling_still_ends_the_task(
    provider: SimulatorProvider, sink: WebhookSink, sim: SimulatorServer
) -> None:
    submission = provider.submit(task(hook_url=sink.url, queueSeconds=0, latency=0.5, webhook={"drop": True}))
    assert poll_until(provider, submission.provider_id, terminal)[-1].state is TaskState.SUCCEEDED
    time.sleep(0.1)
    assert sink.received == []
    assert sim.stats()["webhooks_dropped"] == 2


def test_failed_webhook_delivery_is_retried(
    provider: SimulatorProvider, sink: WebhookSink, sim: SimulatorServer
) -> None:
    sink.status = 500
    provider.submit(task(hook_url=sink.url, queueSeconds=0, latency=0, webhook={}))
    received = sink.wait_for(3)
    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert eventually(lambda: sim.stats()["webhook_failures"] == 3)


def test_reset_clears_predictions_and_counters(provider: SimulatorProvider, sim: SimulatorServer) -> None:
    submission = provider.submit(task())
    requests.post(f"{sim.base_url}/_sim/reset", timeout=5)
    stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()
    assert stats["predictions_created"] == 0
    assert stats["creates_per_key"] == {}
    with pytest.raises(ProviderRejected):
        provider.status(submission.provider_id)


def test_api_token_is_required_when_configured() -> None:
    with SimulatorServer(time_scale=SCALE, api_token="secret") as server:
        with pytest.raises(ProviderRejected) as caught:
            SimulatorProvider(server.base_url, api_token="wrong").submit(task())
        assert caught.value.status_code == 401
        assert SimulatorProvider(server.base_url, api_token="secret").submit(task()).provider_id


def test_webhook_body_is_the_prediction(provider: SimulatorProvider, sink: WebhookSink) -> None:
    provider.submit(task(hook_url=sink.url, queueSeconds=0, latency=0))
    body = json.loads(sink.wait_for(1)[0].body)
    assert {"id", "status", "progress", "outputs", "error", "created_at"} <= set(body)
