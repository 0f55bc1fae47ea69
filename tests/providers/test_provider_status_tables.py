"""Every documented raw status maps explicitly; anything else ends the task as FAILED."""

from __future__ import annotations

import pytest

from genjobs.providers import TaskState
from genjobs.providers.base import map_status
from genjobs.providers.fal import STATUS_TABLE as FAL_TABLE
from genjobs.providers.generic_http import GenericHttpConfig, GenericHttpProvider
from genjobs.providers.replicate import to_status
from genjobs.providers.simulator import STATUS_TABLE as SIM_TABLE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("starting", TaskState.QUEUED),
        ("processing", TaskState.RUNNING),
        ("succeeded", TaskState.SUCCEEDED),
        ("failed", TaskState.FAILED),
        ("canceled", TaskState.CANCELED),
        ("aborted", TaskState.FAILED),
        ("brand_new_status", TaskState.FAILED),
        ("", TaskState.FAILED),
    ],
)
def test_replicate_status_maps_through_the_explicit_table(raw: str, expected: TaskState) -> None:
    # GIVEN a Replicate prediction in a raw status
    prediction = {"id": "p1", "status": raw, "output": None, "error": None, "logs": ""}
    # WHEN it is mapped
    status = to_status(prediction)
    # THEN the state is the table's, and the raw status is kept for support
    assert status.state is expected
    assert status.raw_status == raw


def test_replicate_aborted_is_terminal_with_a_reason() -> None:
    # GIVEN a prediction whose Cancel-After deadline passed before it started
    status = to_status({"id": "p1", "status": "aborted", "error": None})
    # THEN it ends (clients that kept polling "aborted" waited forever) and says why
    assert status.state.is_terminal
    assert status.error is not None
    assert "aborted" in status.error


def test_unknown_status_never_maps_to_a_waiting_state() -> None:
    # GIVEN any table and a status it does not list
    for table in (FAL_TABLE, SIM_TABLE):
        state, error = map_status(table, "PAUSED_FOR_REASONS")
        # THEN the task fails with the raw status in the error
        assert state is TaskState.FAILED
        assert error is not None
        assert "PAUSED_FOR_REASONS" in error


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("IN_QUEUE", TaskState.QUEUED), ("IN_PROGRESS", TaskState.RUNNING), ("COMPLETED", TaskState.SUCCEEDED)],
)
def test_fal_documented_statuses_are_in_the_table(raw: str, expected: TaskState) -> None:
    assert FAL_TABLE[raw] is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("queued", TaskState.QUEUED),
        ("running", TaskState.RUNNING),
        ("succeeded", TaskState.SUCCEEDED),
        ("failed", TaskState.FAILED),
        ("canceled", TaskState.CANCELED),
    ],
)
def test_simulator_statuses_are_in_the_table(raw: str, expected: TaskState) -> None:
    assert SIM_TABLE[raw] is expected


def test_generic_unknown_status_fails_with_the_raw_status_in_the_error() -> None:
    # GIVEN a generic API that knows only "pending" and "done"
    provider = GenericHttpProvider(
        GenericHttpConfig(
            base_url="http://unused", status_map={"pending": TaskState.QUEUED, "done": TaskState.SUCCEEDED}
        )
    )
    # WHEN it reports something else
    status = provider.to_status({"task_id": "t1", "status": "on_hold"}, "t1")
    # THEN the task fails and says which status it did not know
    assert status.state is TaskState.FAILED
    assert status.error == "unknown provider status 'on_hold'"
