"""The template's ScheduleV2 (EventBridge Scheduler, rate(1 minute)) invokes its function in scaled time."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from typing import Any

import pytest
from tests.local.conftest import TIME_SCALE

from genjobs_local import LocalStack
from genjobs_local.schedules import Schedule, Scheduler, rate_seconds


def test_run_schedules_now_invokes_each_function_with_its_schedules_event(
    stack: LocalStack, fake: Any
) -> None:
    # GIVEN a fake sweeper and dispatcher (the template's two schedules)
    sweeper = fake("SweeperFunction", lambda event, context: {"swept": 0})
    dispatcher = fake("DispatcherFunction", lambda event, context: {"dispatched": 0})

    # WHEN the schedules are fired by hand
    before = time.time()
    results = stack.run_schedules_now()

    # THEN the sweeper got its schedule's Input, with the time the pass was meant for filled in
    assert sorted(results) == [('{"dispatched": 0}', False), ('{"swept": 0}', False)]
    (event,) = sweeper.calls
    assert set(event) == {"scheduledTime"}
    meant_for = datetime.fromisoformat(event["scheduledTime"]).timestamp()
    assert before - 0.01 <= meant_for <= time.time()
    # AND the dispatcher, whose schedule has no Input, Scheduler's default notification
    (default,) = dispatcher.calls
    assert default["source"] == "aws.scheduler"
    assert default["detail-type"] == "Scheduled Event"
    assert default["resources"] == [
        "arn:aws:scheduler:us-east-1:123456789012:schedule/default/DispatcherFunctionEveryMinute"
    ]


def test_each_fire_carries_the_time_it_was_meant_for_however_late_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a rate(1 minute) schedule whose Input asks for its context attributes, every other
    # fire of which starts 0.3 s late (half a scaled minute: a busy machine's thread woke late)
    monkeypatch.setenv("TIME_SCALE", str(TIME_SCALE))
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/s"
    attributes = ("schedule-arn", "scheduled-time", "execution-id", "attempt-number")
    text = "{" + ", ".join(f'"{a}": "<aws.scheduler.{a}>"' for a in attributes) + "}"
    events: list[dict[str, str]] = []
    fire_async = Scheduler._fire_async
    fires = itertools.count()

    def late(self: Scheduler, *args: Any) -> None:
        time.sleep(0.3 if next(fires) % 2 == 0 else 0.0)
        fire_async(self, *args)

    monkeypatch.setattr(Scheduler, "_fire_async", late)

    def run(function: str, event: Any) -> tuple[str, bool]:
        events.append(event)
        return "null", False

    scheduler = Scheduler([Schedule("s", arn, 60, "fn", text)], run)
    # WHEN it runs for 3.3 wall seconds (5 fires)
    scheduler.start()
    time.sleep(3.3)
    scheduler.stop()

    # THEN each event names its schedule and attempt, and the times they were meant for are one
    # scaled minute apart, to the millisecond, whenever each invocation ran
    assert len(events) == 5
    assert {e["schedule-arn"] for e in events} == {arn}
    assert {e["attempt-number"] for e in events} == {"1"}
    assert len({e["execution-id"] for e in events}) == 5
    meant_for = sorted(datetime.fromisoformat(e["scheduled-time"]).timestamp() for e in events)
    gaps = [b - a for a, b in itertools.pairwise(meant_for)]
    assert all(abs(gap - 60 * TIME_SCALE) <= 0.002 for gap in gaps), gaps


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
