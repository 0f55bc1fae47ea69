"""Schedule time vs wall time: local runs shrink every wait the stack itself makes by TIME_SCALE."""

from __future__ import annotations

import os


def time_scale() -> float:
    """Wall seconds per schedule second (env TIME_SCALE, default 1.0); read on every use."""
    return float(os.environ.get("TIME_SCALE", "1.0"))


def wall_seconds(schedule_seconds: float) -> float:
    return max(0.0, float(schedule_seconds)) * time_scale()
