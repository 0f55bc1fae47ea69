"""The meter's transition count of one task, in each waiting mode, is the one the state machine's
definition gives: the cost report and statemachine/generation.asl.json cannot drift apart.

The expected count is derived by walking the ASL (whatever its states are called or nested): from
the parent's StartAt, a Choice follows its Default (a job not cancelled, with no further round),
a Map runs its one item through its processor (plus the child execution's start when the Map is
distributed), and a task whose Catch routes `PollProvider` is where the polled path leaves the
webhook path; the state retried on `TaskNotReady` is entered once and retried once per further
status check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genjobs_local import metering
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_job

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "generation.asl.json"
POLL_BRANCH = "PollProvider"  # the error that sends a submitted task to the polled path
NOT_READY = "TaskNotReady"  # the Retry that is one status check


def _catch(state: dict[str, Any], error: str) -> str | None:
    return next((c["Next"] for c in state.get("Catch", []) if error in c["ErrorEquals"]), None)


def _retried_on(state: dict[str, Any], error: str) -> bool:
    return any(error in r["ErrorEquals"] for r in state.get("Retry", []))


def transitions(states: dict[str, Any], start: str, polled: bool, checks: int) -> int:
    """Billed transitions of one task's job through `states` from `start`."""
    total, name, steps = 0, start, 0
    while name is not None:
        steps += 1
        assert steps < 100, "the walk loops: a Choice's Default leads back"
        state = states[name]
        total += 1
        if state["Type"] == "Map":
            processor = state.get("ItemProcessor") or state["Iterator"]
            total += transitions(processor["States"], processor["StartAt"], polled, checks)
            if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
                total += 1  # the child execution's start
        for branch in state.get("Branches", []):
            total += transitions(branch["States"], branch["StartAt"], polled, checks)
        if polled and _retried_on(state, NOT_READY):
            total += checks - 1  # every check that found the task running is a Retry
        if polled and (caught := _catch(state, POLL_BRANCH)) is not None:
            name = caught
        elif state["Type"] == "Choice":
            name = state["Default"]
        else:
            name = None if state.get("End") else state["Next"]
    return total


def status_check_function(states: dict[str, Any]) -> str:
    """The logical id of the function the state retried on TaskNotReady invokes (nested Maps too)."""
    for state in states.values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found = status_check_function(processor["States"])
            if found:
                return found
        if _retried_on(state, NOT_READY):
            match = re.fullmatch(r"\$\{(\w+)Arn\}", state["Parameters"]["FunctionName"])
            assert match, state["Parameters"]
            return match.group(1)
    return ""


@pytest.fixture
def meter(stack: LocalStack, no_sweeper: None) -> Iterator[metering.Meter]:
    stack.wait_idle(timeout=60)  # other tests' executions must not be counted
    with metering.counting() as meter:
        yield meter


@pytest.mark.parametrize(
    ("model", "polled", "latency"),
    # 300 s: checked at 20, 35, 65, 125 and 245 s before the check that finds it done; at least 2
    # even when a loaded machine stretches the submission by a few wall seconds (at 100 s, a CI run
    # saw fewer than 2: a second and a half of wall time is 75 schedule seconds at TIME_SCALE 0.02)
    [("sim-image-webhook", False, 5), ("sim-image", True, 300)],
)
def test_one_task_costs_the_transitions_its_state_machine_defines(
    stack: LocalStack, app: Client, meter: metering.Meter, model: str, polled: bool, latency: float
) -> None:
    # GIVEN a one-task job in one waiting mode, metered from its creation to its end
    job = app.create(sim_job(1, model=model, latency=latency, queueSeconds=0))
    assert app.wait(job["jobId"], timeout=120)["status"] == "COMPLETED"
    stack.wait_idle(timeout=60)
    snapshot = meter.snapshot()

    # WHEN the definition is walked for that mode, with the status checks the run made
    definition = json.loads(ASL.read_text())
    checker = status_check_function(definition["States"])
    checks = snapshot["lambda_invocations"].get(checker, 0)
    expected = transitions(definition["States"], definition["StartAt"], polled, checks)

    # THEN the meter bills exactly those transitions: states entered, Retry attempts, the child's start
    assert (checks >= 2) if polled else (checks == 0), snapshot["lambda_invocations"]
    assert snapshot["state_transitions"] == expected, snapshot
    assert snapshot["child_starts"] == 1
