"""The template's ScheduleV2 (EventBridge Scheduler, rate(1 minute)) invokes its function in scaled time."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.local.conftest import TIME_SCALE

from genjobs_local import LocalStack
from genjobs_local.schedules import Schedule, Scheduler, rate_seconds


def test_run_schedules_now_invokes_the_sweeper_with_a_scheduler_event(stack: LocalStack, fake: Any) -> None:
    # GIVEN a fake sweeper (and dispatcher, the template's other schedule)
    sweeper = fake("SweeperFunction", lambda event, context: {"swept": 0})
    fake("DispatcherFunction", lambda event, context: {"dispatched": 0})

    # WHEN the schedules are fired by hand
    results = stack.run_schedules_now()

    # THEN the sweeper ran once with Scheduler's default notification
    assert sorted(results) == [('{"dispatched": 0}', False), ('{"swept": 0}', False)]
    event = sweeper.calls[0]
    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [
        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/SweeperFunctionEveryMinute"
    ]


def fire_offsets(
    monkeypatch: pytest.MonkeyPatch, wall_seconds: float, first_takes: float = 0.0
) -> list[float]:
    """When a rate(1 minute) schedule (0.6 wall seconds at TIME_SCALE 0.01) fired its target, in
    wall seconds after it started, over `wall_seconds`; its first invocation takes `first_takes`."""
    monkeypatch.setenv("TIME_SCALE", str(TIME_SCALE))
    fired: list[float] = []

    def run(function: str, event: Any) -> tuple[str, bool]:
        fired.append(time.monotonic())
        if len(fired) == 1:
            time.sleep(first_takes)
        return "null", False

    schedule = Schedule("s", "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s", 60, "fn", None)
    scheduler = Scheduler([schedule], run)
    started = time.monotonic()
    scheduler.start()
    time.sleep(wall_seconds)
    scheduler.stop()
    return [at - started for at in fired]


def test_schedule_thread_fires_every_scaled_period(monkeypatch: pytest.MonkeyPatch) -> None:
    # WHEN a rate(1 minute) schedule runs for 1.5 wall seconds
    fired = fire_offsets(monkeypatch, 1.5)

    # THEN it fired twice, one scaled minute apart, and not at start
    assert len(fired) == 2
    assert fired[0] >= 60 * TIME_SCALE * 0.9


def test_a_slow_invocation_never_delays_the_next_fire(monkeypatch: pytest.MonkeyPatch) -> None:
    # WHEN a rate(1 minute) schedule whose first invocation takes 1 wall second runs for 2.1 s
    fired = fire_offsets(monkeypatch, 2.1, first_takes=1.0)

    # THEN it fired at fixed times, one scaled minute apart, the second while the first still ran
    # (EventBridge invokes asynchronously), and stopping waited for the running invocations
    assert [round(at / (60 * TIME_SCALE)) for at in fired] == [1, 2, 3]


def test_rate_expressions_are_read_in_seconds() -> None:
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
