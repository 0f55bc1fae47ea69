"""Schedule time vs wall time: local runs shrink every wait the stack itself makes by TIME_SCALE."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def time_scale() -> float:
    """Wall seconds per schedule second (env TIME_SCALE, default 1.0); read on every use."""
    return float(os.environ.get("TIME_SCALE", "1.0"))


def wall_seconds(schedule_seconds: float) -> float:
    return max(0.0, float(schedule_seconds)) * time_scale()


def queue_wall_seconds(schedule_seconds: float) -> float:
    """SQS visibility timeouts and delays: env QUEUE_TIME_SCALE when set, else TIME_SCALE. A test
    can run a queue's backoff faster without also shortening the task heartbeats that wait on it."""
    scale = os.environ.get("QUEUE_TIME_SCALE")
    return max(0.0, float(schedule_seconds)) * (float(scale) if scale else time_scale())


@dataclass(frozen=True)
class ScaledClock:
    """The functions' clock (genjobs.clock.Clock) on the stack's time: a schedule second lasts
    `scale` wall seconds."""

    scale: float

    def now(self) -> datetime:
        return datetime.now(UTC)

    def duration(self, schedule_seconds: float) -> timedelta:
        return timedelta(seconds=schedule_seconds * self.scale)

    def seconds_since(self, moment: datetime) -> float:
        return (self.now() - moment).total_seconds() / self.scale
