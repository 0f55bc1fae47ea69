"""The live channel end to end: a real WebSocket client on the local stack's WebSocket API, the
changes coming from the jobs table's stream through LiveFunction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from genjobs_local.stack import LocalStack
from genjobs_local.tokens import AUDIENCE, Jwk
from tests.e2e.conftest import TERMINAL, Client, sim_job, wait_for


@contextmanager
def channel(stack: LocalStack, token: str, **query: str) -> Iterator[ClientConnection]:
    params = "&".join(f"{k}={v}" for k, v in {"token": token, **query}.items())
    with connect(f"{stack.live_url}?{params}", open_timeout=10) as socket:
        yield socket


def frames(
    socket: ClientConnection, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 60
) -> list[dict[str, Any]]:
    """The change frames received until `until` holds for them."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not until(received):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{len(received)} frames, the last {received[-1:]}, after {timeout}s")
        try:
            frame = json.loads(socket.recv(timeout=min(remaining, 1.0)))
        except TimeoutError:
            continue
        if frame.get("type") == "change":
            received.append(frame)
    return received


def job_ended(job_id: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda received: any(
        f["jobId"] == job_id and f["kind"] == "job.changed" and f["detail"]["status"] in TERMINAL
        for f in received
    )


def changes_after(client: Client, job_id: str, after: int) -> list[dict[str, Any]]:
    """Every change after `after`, a page of 100 at a time (each asks after the last one's seq)."""
    changes: list[dict[str, Any]] = []
    while True:
        response = client.get(f"/jobs/{job_id}/events", params={"after": after, "limit": 100})
        assert response.status_code == 200, response.text
        # What the frame leaves out (no task index, no step) the API gives as null.
        page = [{k: v for k, v in c.items() if v is not None} for c in response.json()["items"]]
        changes += page
        if len(page) < 100:
            return changes
        after = page[-1]["seq"]


def as_listed(frame: dict[str, Any]) -> dict[str, Any]:
    """A frame as events?after= lists it (the same change, without the frame's envelope)."""
    return {k: v for k, v in frame.items() if k not in ("type", "jobId")}


def settled_changes(stack: LocalStack, client: Client, job_id: str) -> list[dict[str, Any]]:
    stack.wait_idle(timeout=60)
    return changes_after(client, job_id, 0)


def test_every_transition_arrives_in_order_as_the_api_lists_it(stack: LocalStack, app: Client) -> None:
    # GIVEN a connected app
    with channel(stack, stack.mint_token(app.user)) as socket:
        # WHEN it runs a job whose tasks report progress
        job = app.create(sim_job(3, latency=200, progressSteps=4))
        received = frames(socket, job_ended(job["jobId"]))
        listed = settled_changes(stack, app, job["jobId"])
        received += frames(socket, lambda r: len(received) + len(r) >= len(listed), timeout=10)

    # THEN every change came, numbered 1..n in order, as the API lists them
    assert [f["seq"] for f in received] == list(range(1, len(listed) + 1))
    assert [as_listed(f) for f in received] == listed
    # with every task's transitions and its provider progress, and the job's
    tasks = {f["taskIndex"] for f in received if f["kind"] == "task.changed"}
    assert tasks == {0, 1, 2}
    statuses = [
        f["detail"]["status"] for f in received if f["kind"] == "task.changed" and f["taskIndex"] == 0
    ]
    assert statuses[0] == "PENDING"
    assert statuses[-1] == "COMPLETED"
    assert "PROCESSING" in statuses
    percents = [f["detail"].get("percent") for f in received if f.get("taskIndex") == 0]
    assert any(p is not None and 0 < p < 100 for p in percents), percents
    completed = [f for f in received if f["kind"] == "task.changed" and f["detail"]["status"] == "COMPLETED"]
    assert all(f["detail"]["outputs"] for f in completed)
    assert received[-1]["kind"] == "job.changed"
    assert received[-1]["detail"]["status"] == "COMPLETED"
    assert received[-1]["detail"]["percent"] == 100.0


def test_a_dropped_connection_resyncs_with_nothing_lost_or_doubled(stack: LocalStack, app: Client) -> None:
    token = stack.mint_token(app.user)
    # GIVEN an app that saw the first changes of a running job, then lost its connection
    with channel(stack, token) as socket:
        job = app.create(sim_job(4, latency=100, progressSteps=5))
        seen = frames(socket, lambda r: len(r) >= 3)
    wait_for(lambda: changes_after(app, job["jobId"], seen[-1]["seq"]), what="changes while offline")

    # WHEN it reconnects and asks for what came after the last number it saw
    with channel(stack, token) as socket:
        missed = changes_after(app, job["jobId"], seen[-1]["seq"])
        live = frames(socket, job_ended(job["jobId"]))
    listed = settled_changes(stack, app, job["jobId"])

    # THEN seen + missed + the live frames past the resync are exactly the job's changes, once each
    resynced = [as_listed(f) for f in seen] + missed
    resynced += [as_listed(f) for f in live if f["seq"] > resynced[-1]["seq"]]
    assert resynced == listed[: len(resynced)]
    assert [c["seq"] for c in resynced] == list(range(1, len(resynced) + 1))
    assert resynced[-1]["kind"] == "job.changed"
    assert resynced[-1]["detail"]["status"] == "COMPLETED"


def test_another_users_jobs_never_arrive(stack: LocalStack, make_user: Callable[..., Client]) -> None:
    alice, bob = make_user(), make_user()
    # GIVEN both connected, each for all their jobs
    with (
        channel(stack, stack.mint_token(alice.user)) as alices,
        channel(stack, stack.mint_token(bob.user)) as bobs,
    ):
        # WHEN each runs a job
        bobs_job = bob.create(sim_job(2))
        alices_job = alice.create(sim_job(1))
        to_alice = frames(alices, job_ended(alices_job["jobId"]))
        to_bob = frames(bobs, job_ended(bobs_job["jobId"]))
        stack.wait_idle(timeout=60)
        to_alice += frames(alices, lambda r: True)

    # THEN each received only their own job's changes
    assert {f["jobId"] for f in to_alice} == {alices_job["jobId"]}
    assert {f["jobId"] for f in to_bob} == {bobs_job["jobId"]}
    # and neither may read the other's changes through the API either
    assert alice.get(f"/jobs/{bobs_job['jobId']}/events", params={"after": 0}).status_code == 404


def test_a_connection_for_one_job_receives_only_that_job(
    stack: LocalStack, app: Client, make_user: Callable[..., Client]
) -> None:
    first, second = app.create(sim_job(1, latency=60)), app.create(sim_job(1, latency=60))
    with channel(stack, stack.mint_token(app.user), jobId=second["jobId"]) as socket:
        received = frames(socket, job_ended(second["jobId"]))
    assert {f["jobId"] for f in received} == {second["jobId"]}
    app.wait(first["jobId"])
    # Another user's job cannot be named at connect: it does not exist for them.
    with (
        pytest.raises(InvalidStatus) as refused,
        channel(stack, stack.mint_token(make_user().user), jobId=first["jobId"]),
    ):
        pass
    assert refused.value.response.status_code == 404


def _forged(stack: LocalStack, user: str) -> str:
    # Same key id and claims as the real issuer's, signed by another key.
    forger = Jwk(kid=stack.jwk.kid, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return forger.mint(issuer=stack.issuer, audience=AUDIENCE, user=user)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda stack: _forged(stack, "mallory"), id="forged"),
        pytest.param(lambda stack: stack.mint_token("mallory", ttl_seconds=-10), id="expired"),
        pytest.param(
            lambda stack: stack.jwk.mint(issuer=stack.issuer, audience="other-app", user="m"), id="audience"
        ),
        pytest.param(
            lambda stack: stack.jwk.mint(issuer="https://elsewhere", audience=AUDIENCE, user="m"), id="issuer"
        ),
        pytest.param(lambda stack: "not-a-jwt", id="garbage"),
        pytest.param(lambda stack: "", id="missing"),
    ],
)
def test_bad_tokens_are_refused_at_connect(stack: LocalStack, token: Callable[[LocalStack], str]) -> None:
    with pytest.raises(InvalidStatus) as refused, channel(stack, token(stack)):
        pass
    assert refused.value.response.status_code == 401


def test_a_token_that_expires_while_connected_stops_delivery(stack: LocalStack, app: Client) -> None:
    # GIVEN a connection opened with a token about to expire
    with channel(stack, stack.mint_token(app.user, ttl_seconds=2)) as socket:
        time.sleep(2.5)
        # WHEN a change of the user's job comes after it expired
        app.create(sim_job(1))
        # THEN no change is delivered and the channel closes the connection
        with pytest.raises(ConnectionClosed):
            _no_change_until_closed(socket)


def _no_change_until_closed(socket: ClientConnection) -> None:
    while True:
        frame = json.loads(socket.recv(timeout=30))
        assert frame.get("type") != "change", frame


# ---- the CLI's `watch` -----------------------------------------------------------------------------
def _watch(
    stack: LocalStack, client: Client, job_id: str, live_url: str, interval: float
) -> tuple[int, float]:
    from genjobs_cli.main import main

    token = str(client.session.headers["Authorization"]).removeprefix("Bearer ")
    started = time.monotonic()
    argv = ["--api-url", stack.api_url, "--token", token, "--live-url", live_url]
    code = main([*argv, "watch", job_id, f"--interval={interval}"])
    return code, time.monotonic() - started


def test_cli_watch_redraws_from_the_channel_not_by_polling(stack: LocalStack, app: Client) -> None:
    # GIVEN a job of a few seconds, watched with a polling interval far longer than the job
    job = app.create(sim_job(2, latency=100))
    # WHEN the CLI watches it with the live channel
    code, took = _watch(stack, app, job["jobId"], stack.live_url, interval=120)
    # THEN it saw the end as it happened, not at its next poll
    assert code == 0
    assert took < 60


def test_cli_watch_polls_when_the_channel_cannot_be_opened(stack: LocalStack, app: Client) -> None:
    job = app.create(sim_job(1))
    code, _ = _watch(stack, app, job["jobId"], "ws://127.0.0.1:9/nowhere", interval=0.05)
    assert code == 0


def test_cli_channel_resyncs_after_the_connection_is_dropped(stack: LocalStack, app: Client) -> None:
    from genjobs_cli.client import Api
    from genjobs_cli.live import JobChannel

    token = stack.mint_token(app.user)
    job = app.create(sim_job(3, latency=150, progressSteps=4))
    channel = JobChannel(Api(stack.api_url, token), stack.live_url, token, job["jobId"])
    channel.open()
    seen: list[dict[str, Any]] = []
    try:
        while len(seen) < 2:
            seen += channel.changes(5)
        # WHEN the server drops every connection (as API Gateway does after 2 hours or 10 idle minutes)
        assert stack.live is not None
        for connection_id in list(stack.live._sockets):
            stack.live.close(connection_id)
        deadline = time.monotonic() + 60
        ended = lambda: any(c["kind"] == "job.changed" and c["detail"]["status"] in TERMINAL for c in seen)  # noqa: E731
        while not ended() and time.monotonic() < deadline:
            seen += channel.changes(1)
    finally:
        channel.close()
    # THEN it reconnected and has every change once, in order, as the API lists them
    assert channel.reconnects == 1
    listed = settled_changes(stack, app, job["jobId"])
    assert [c["seq"] for c in seen] == list(range(1, len(listed) + 1))
