"""Time as the product reads it: the current moment, and durations in schedule seconds.

Every duration the product configures (a task's deadline, the webhook grace, the sweeper's interval)
is in schedule seconds. On the system clock a schedule second lasts one second; a clock that runs
faster or slower (the local stack's) passes through `Deps(clock=...)`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from genjobs.models.domain import utcnow


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment (aware, UTC)."""
        ...

    def duration(self, schedule_seconds: float) -> timedelta:
        """How long `schedule_seconds` last on this clock."""
        ...

    def seconds_since(self, moment: datetime) -> float:
        """Schedule seconds elapsed since `moment`."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def duration(self, schedule_seconds: float) -> timedelta:
        return timedelta(seconds=schedule_seconds)

    def seconds_since(self, moment: datetime) -> float:
        return (utcnow() - moment).total_seconds()
