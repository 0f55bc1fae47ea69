"""EventBridge Scheduler for rate() schedules with a Lambda target, in scaled time.

Like EventBridge Scheduler, a schedule fires at fixed times and invokes its target asynchronously:
a slow invocation never delays the next one (they may overlap, as on AWS). Waiting for each
invocation before counting the next period made the passes drift later by every pass's duration;
at a TIME_SCALE of 0.02, a 1.2 s pass on a busy machine skipped a whole minute of schedule.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from genjobs_local.clock import wall_seconds
from genjobs_local.intrinsics import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    name: str
    arn: str
    period_s: int  # schedule seconds
    target_arn: str
    input: str | None  # Target.Input, passed as the event when set


def rate_seconds(expression: str) -> int:
    match = _RATE.match(expression.strip())
    if match is None:
        raise NotImplementedError(f"only rate(N unit) schedules are emulated, not {expression!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def scheduled_time(at: float) -> str:
    """<aws.scheduler.scheduled-time> for a fire meant for `at` (epoch seconds). Scheduler writes
    whole seconds; here a minute may last a second, so the milliseconds are kept."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
    return f"{whole}.{int(at * 1000) % 1000:03d}Z"


def schedule_event(schedule: Schedule, at: float | None = None) -> Any:
    """Target.Input if the schedule has one, its context attributes filled in as Scheduler fills
    them, else Scheduler's default notification. `at` is the time the fire was meant for (epoch
    seconds; now by default)."""
    meant_for = time.time() if at is None else at
    if schedule.input is not None:
        attributes = {
            "schedule-arn": schedule.arn,
            "scheduled-time": scheduled_time(meant_for),
            "execution-id": uuid.uuid4().hex[:16],
            "attempt-number": "1",  # the template retries schedules 0 times
        }
        text = schedule.input
        for name, value in attributes.items():
            text = text.replace(f"<aws.scheduler.{name}>", value)
        return json.loads(text)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [schedule.arn],
        "detail": "{}",
    }


# Invocations of one schedule running at once beyond which a fire is skipped (and logged): on a
# starved machine, passes that cannot keep up would otherwise pile up without end.
MAX_OVERLAPPING_FIRES = 4


class Scheduler:
    def __init__(self, schedules: list[Schedule], run: Callable[[str, Any], tuple[str, bool]]) -> None:
        self.schedules = schedules
        self._run = run
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(s,), name=f"schedule-{s.name}", daemon=True)
            for s in schedules
        ]
        self._fires: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        with self._lock:
            fires = list(self._fires)
        for fire in fires:
            fire.join()

    def fire(self, schedule: Schedule, at: float | None = None) -> tuple[str, bool]:
        # Scheduler invokes Lambda asynchronously; an error is logged (the template retries 0 times).
        payload, errored = self._run(schedule.target_arn, schedule_event(schedule, at))
        if errored:
            log.error("schedule %s: %s", schedule.name, payload)
        return payload, errored

    def run_all_now(self) -> list[tuple[str, bool]]:
        return [self.fire(s) for s in self.schedules]

    def _loop(self, schedule: Schedule) -> None:
        period = wall_seconds(schedule.period_s)
        due = time.monotonic() + period
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            # The fire is meant for `due`, however late this thread woke or the invocation starts.
            self._fire_async(schedule, time.time() - (time.monotonic() - due))
            due += period

    def _fire_async(self, schedule: Schedule, at: float) -> None:
        with self._lock:
            running = [t for t in self._fires if t.name == f"fire-{schedule.name}"]
            if len(running) >= MAX_OVERLAPPING_FIRES:
                log.warning(
                    "schedule %s: %d invocations still running, this fire skipped",
                    schedule.name,
                    len(running),
                )
                return
            thread = threading.Thread(
                target=self._fire_then_forget, args=(schedule, at), name=f"fire-{schedule.name}"
            )
            self._fires.add(thread)
        thread.start()

    def _fire_then_forget(self, schedule: Schedule, at: float) -> None:
        try:
            self.fire(schedule, at)
        finally:
            with self._lock:
                self._fires.discard(threading.current_thread())
