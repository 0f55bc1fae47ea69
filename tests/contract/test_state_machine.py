"""Rules the generation state machine must keep, read from statemachine/generation.asl.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ASL = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "generation.asl.json").read_text())


def states(machine: dict[str, Any] = ASL) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in machine["States"].items():
        yield name, state
        if "ItemProcessor" in state:
            yield from states(state["ItemProcessor"])


def test_a_wait_that_timed_out_in_the_queue_is_sent_again_but_the_task_deadline_is_final() -> None:
    # A submission that waited in the SubmitQueue past HeartbeatSeconds is retried with a new token
    # (the submitter records it, or drops a message whose token is dead); TimeoutSeconds is the
    # task's deadline and is never retried.
    waits = {n: s for n, s in states() if str(s.get("Resource", "")).endswith(".waitForTaskToken")}
    assert set(waits) == {"SubmitAndAwaitWebhook", "Submit"}
    for name, state in waits.items():
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert "States.HeartbeatTimeout" in retried, name
        assert not retried & {"States.Timeout", "States.ALL", "States.TaskFailed"}, name


def test_task_functions_ride_out_a_minute_of_service_errors_before_a_task_fails() -> None:
    # A paid task must not fail because DynamoDB or Step Functions hiccupped for a minute.
    for name in ("PrepareJob", "PollTask"):
        state = dict(states())[name]
        retry = next(r for r in state["Retry"] if r["ErrorEquals"] == ["States.TaskFailed"])
        waited = sum(
            min(retry["IntervalSeconds"] * retry["BackoffRate"] ** i, retry.get("MaxDelaySeconds", 1e9))
            for i in range(retry["MaxAttempts"])
        )
        assert waited >= 60, name


def test_polling_is_a_retry_of_one_state_not_a_loop_of_states() -> None:
    poll = dict(states())["PollTask"]
    first = poll["Retry"][0]
    assert first["ErrorEquals"] == ["TaskNotReady"]  # before any catch-all retrier
    assert first["MaxDelaySeconds"] <= 30  # cancel and completion are seen within 30 s
    assert "JitterStrategy" not in first  # a check never comes earlier than its interval
