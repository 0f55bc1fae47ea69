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
    assert set(waits) == {"SubmitTask"}
    for name, state in waits.items():
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert "States.HeartbeatTimeout" in retried, name
        assert not retried & {"States.Timeout", "States.ALL", "States.TaskFailed"}, name


def test_task_functions_ride_out_a_minute_of_service_errors_before_a_task_fails() -> None:
    # A paid task must not fail because DynamoDB or Step Functions hiccupped for a minute.
    for name in ("PrepareJob", "CheckCancellationAndStatus"):
        state = dict(states())[name]
        retry = next(r for r in state["Retry"] if r["ErrorEquals"] == ["States.TaskFailed"])
        waited = sum(
            min(retry["IntervalSeconds"] * retry["BackoffRate"] ** i, retry.get("MaxDelaySeconds", 1e9))
            for i in range(retry["MaxAttempts"])
        )
        assert waited >= 60, name


def test_polling_is_a_retry_of_one_state_not_a_loop_of_states() -> None:
    poll = dict(states())["CheckCancellationAndStatus"]
    first = poll["Retry"][0]
    assert first["ErrorEquals"] == ["TaskNotReady"]  # before any catch-all retrier
    assert first["MaxDelaySeconds"] <= 30  # cancel and completion are seen within 30 s
    assert "JitterStrategy" not in first  # a check never comes earlier than its interval


def child() -> dict[str, Any]:
    processors = [state["ItemProcessor"] for _, state in states() if "ItemProcessor" in state]
    assert len(processors) == 1  # one child workflow for a task, whatever its waiting mode
    return processors[0]


def path(machine: dict[str, Any], start: str, via: str | None = None) -> list[str]:
    """The states a child enters from `start`: each state's Next, or its Catch of error `via`."""
    entered, name = [], start
    while name:
        entered.append(name)
        state = machine["States"][name]
        caught = [c["Next"] for c in state.get("Catch", []) if via in c["ErrorEquals"]]
        name, via = (caught[0], None) if caught else (state.get("Next"), via)
    return entered


def test_a_webhook_task_is_one_state_transition() -> None:
    # GIVEN the one child every task runs in
    processor = child()
    submit = processor["States"][processor["StartAt"]]
    # THEN it starts by waiting on the task's token, and its success (the webhook, the sweeper or
    # a submitter with nothing left to wait for) ends the child: no second state
    assert submit["Resource"].endswith("sqs:sendMessage.waitForTaskToken")
    assert submit["End"] is True
    assert "Next" not in submit
    assert path(processor, processor["StartAt"]) == ["SubmitTask"]


def test_a_polled_task_waits_for_its_model_then_each_check_is_a_retry() -> None:
    # GIVEN the error the submitter answers a polled task's token with
    from genjobs.models.messages import POLL_PROVIDER

    processor = child()
    # THEN the child catches it by name, before any catch-all, and waits for the job's first check
    entered = path(processor, processor["StartAt"], via=POLL_PROVIDER)
    assert entered == ["SubmitTask", "WaitForProvider", "CheckCancellationAndStatus"]
    catches = [c["ErrorEquals"] for c in processor["States"]["SubmitTask"]["Catch"]]
    assert catches.index([POLL_PROVIDER]) < catches.index(["States.ALL"])
    wait = processor["States"]["WaitForProvider"]
    assert wait["SecondsPath"] == "$.firstCheckSeconds"
    run = next(state for _, state in states() if "ItemProcessor" in state)
    # (each task's own: a pipeline's steps have different models; see models.messages.ManifestItem)
    assert run["ItemSelector"]["firstCheckSeconds.$"] == "$$.Map.Item.Value.firstCheckSeconds"
    # AND a check that finds the task running is retried, never caught back into a loop of states
    check = processor["States"]["CheckCancellationAndStatus"]
    assert all("TaskNotReady" not in c["ErrorEquals"] for c in check["Catch"])


def test_polling_outlasts_the_task_deadline_within_a_child_history() -> None:
    # GIVEN the default task deadline, at which a check ends the task itself
    from genjobs.settings import Settings

    deadline = Settings.model_fields["task_deadline_seconds"].default
    retry = dict(states())["CheckCancellationAndStatus"]["Retry"][0]
    # THEN the checks never run out before it, and stay far within a child's 25,000 history events
    # (about 3 per check)
    waited, interval = 0.0, float(retry["IntervalSeconds"])
    for _ in range(retry["MaxAttempts"]):
        waited += min(interval, retry["MaxDelaySeconds"])
        interval = min(interval * retry["BackoffRate"], retry["MaxDelaySeconds"])
    assert waited > deadline
    assert retry["MaxAttempts"] * 3 < 25_000


def test_a_job_cancelled_before_its_tasks_run_goes_straight_to_settlement() -> None:
    # GIVEN the per-job check after PrepareJob
    prepare = ASL["States"]["PrepareJob"]
    check = ASL["States"][prepare["Next"]]
    # THEN it is a Choice (no Lambda, no extra transition) that skips the tasks when cancelled
    assert check["Type"] == "Choice"
    (rule,) = check["Choices"]
    assert (rule["Variable"], rule["BooleanEquals"], rule["Next"]) == ("$.cancelRequested", True, "SettleJob")
    assert ASL["States"][check["Default"]]["Type"] == "Map"
