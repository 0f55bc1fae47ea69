"""The CLI's live channel: every change of the job once and in order, whatever the connection missed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genjobs_cli.live import JobChannel

pytestmark = [pytest.mark.unit]

JOB = "job-1"


def change(seq: int) -> dict[str, Any]:
    return {"type": "change", "jobId": JOB, "seq": seq, "kind": "task.changed", "detail": {}}


class Socket:
    def __init__(self, frames: list[dict[str, Any]]) -> None:
        self.frames = [json.dumps(f) for f in frames]

    def recv(self, timeout: float) -> str:
        if not self.frames:
            raise TimeoutError
        return self.frames.pop(0)


class Api:
    """The job's changes as GET /jobs/{id}/events?after= lists them."""

    def __init__(self, listed: list[dict[str, Any]]) -> None:
        self.listed = listed
        self.asked: list[int] = []

    def request(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        assert (method, path) == ("GET", f"/jobs/{JOB}/events")
        self.asked.append(params["after"])
        return {"items": [c for c in self.listed if c["seq"] > params["after"]][: params["limit"]]}


def channel(frames: list[dict[str, Any]], listed: list[dict[str, Any]]) -> JobChannel:
    found = JobChannel(Api(listed), "ws://live", "token", JOB)  # type: ignore[arg-type]
    found._socket = Socket(frames)
    return found


def seen(live: JobChannel, reads: int) -> list[int]:
    return [c["seq"] for _ in range(reads) for c in live.changes(0.01)]


def test_changes_made_before_the_connection_opened_are_read_before_the_first_one_it_carries() -> None:
    # GIVEN a job whose first two changes were made before the channel connected
    live = channel([change(3), change(4)], [change(1), change(2), change(3)])
    # WHEN the channel carries changes 3 and 4
    # THEN 1 and 2 are read from the API first, and each change is seen once, in order
    assert seen(live, 3) == [1, 2, 3, 4]
    assert live.api.asked == [0]  # type: ignore[attr-defined]


def test_changes_in_sequence_are_not_read_again() -> None:
    live = channel([change(1), change(2)], [change(1), change(2)])
    assert seen(live, 3) == [1, 2]
    assert live.api.asked == []  # type: ignore[attr-defined]
