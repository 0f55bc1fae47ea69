"""Rules the generation state machine must keep, read from statemachine/generation.asl.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genjobs.logic.batching import POLL_CAP_SECONDS, batch_cap, events_per_task

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
    # completion is seen within 2 minutes (a cancel reaches the provider through the SubmitQueue at
    # once), and the batches' history estimate knows the longest pause
    assert first["MaxDelaySeconds"] == POLL_CAP_SECONDS <= 120
    assert "JitterStrategy" not in first  # a check never comes earlier than its interval


def batch() -> dict[str, Any]:
    """The inline Map each child execution of RunTasks runs over its batch's tasks."""
    run = ASL["States"]["RunTasks"]
    assert run["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    processor = run["ItemProcessor"]
    state: dict[str, Any] = processor["States"][processor["StartAt"]]
    return state


def child() -> dict[str, Any]:
    processors = [state["ItemProcessor"] for _, state in states() if "ItemProcessor" in state]
    assert (
        len(processors) == 2
    )  # the batch's child, and inside it one workflow for a task, whatever its waiting mode
    assert processors[1] is batch()["ItemProcessor"]
    return processors[1]


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
    # (each task's own: a pipeline's steps have different models; see models.messages.ManifestTask)
    assert batch()["ItemSelector"]["firstCheckSeconds.$"] == "$$.Map.Item.Value.firstCheckSeconds"
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


def test_a_batch_runs_its_tasks_width_at_a_time_and_keeps_its_childs_payload_small() -> None:
    # GIVEN the child of RunTasks, which starts with the inline Map over its batch
    run, inline = ASL["States"]["RunTasks"], batch()
    # THEN the Distributed Map hands it one manifest item (a batch) and the inline Map runs the
    # batch's tasks `width` at a time, no iteration billed as a child start
    assert inline["Type"] == "Map"
    assert inline["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    assert run["ItemSelector"]["tasks.$"] == "$$.Map.Item.Value.tasks"
    assert (inline["ItemsPath"], inline["MaxConcurrencyPath"]) == ("$.tasks", "$.width")
    # AND the tasks' outputs are dropped: the child ends with its (small) input whatever the batch
    assert inline["ResultPath"] is None
    assert inline["End"] is True


def test_a_batch_of_polled_tasks_fits_a_child_history_until_their_deadline() -> None:
    # GIVEN the default task deadline and the batch cap the manifest is written with
    from genjobs.settings import Settings

    deadline = Settings.model_fields["task_deadline_seconds"].default
    most = Settings.model_fields["max_tasks_per_batch"].default
    for polled in (False, True):
        events = events_per_task(polled, deadline)
        # THEN a batch whose every task waits until its deadline stays within half the 25,000 events
        assert batch_cap(most, events) * events <= 12_500, polled


def test_a_one_step_job_enters_four_states_and_plans_no_round() -> None:
    # GIVEN the parent's states from PrepareJob, on the way of a job with no more rounds
    entered, name = [], ASL["StartAt"]
    while name:
        entered.append(name)
        state = ASL["States"][name]
        name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    # THEN it enters PrepareJob, the Map, one Choice and SettleJob: PlanTasks only for a pipeline's next round
    assert entered == ["PrepareJob", "RunTasks", "MoreRounds", "SettleJob"]
    (rule,) = ASL["States"]["MoreRounds"]["Choices"]
    assert (rule["Variable"], rule["BooleanEquals"], rule["Next"]) == ("$.moreRounds", True, "PlanTasks")
    assert ASL["States"]["PlanTasks"]["Next"] == "RunTasks"
