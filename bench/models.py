"""What the real schedule gives (poll counts), and the designs a team would otherwise build, priced
from our own measured usage so that only the waiting strategy differs."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.prices import FIXED_LOOP_TRANSITIONS, FIXED_POLL_SECONDS, SLEEPER_MEMORY_GB
from bench.usage import Usage

ASL = Path(__file__).resolve().parents[1] / "statemachine" / "generation.asl.json"


def poll_retrier() -> dict[str, Any]:
    """The status check's Retry on TaskNotReady, read from the state machine itself: the polling schedule."""
    definition = json.loads(ASL.read_text())
    batch = definition["States"]["RunTasks"]["ItemProcessor"]["States"]["RunBatch"]
    poll = batch["ItemProcessor"]["States"]["CheckCancellationAndStatus"]
    return next(r for r in poll["Retry"] if r["ErrorEquals"] == ["TaskNotReady"])


def poll_times(latency: float, expected_seconds: int, min_s: int = 2) -> list[float]:
    """Schedule seconds after submission at which a polling task checks the provider, on the real
    schedule (processing time ~0): the first check from the functions' own first_wait, the next ones
    after the Retry intervals of the state machine, until a check sees the task finished (at or
    after `latency`)."""
    from genjobs.logic.job_model import first_wait

    deps: Any = SimpleNamespace(settings=SimpleNamespace(poll_min_interval_seconds=min_s))
    model: Any = SimpleNamespace(expected_seconds=expected_seconds)
    retrier = poll_retrier()
    t = float(first_wait(model, deps))
    times = [t]
    interval = float(retrier["IntervalSeconds"])
    while t < latency:
        t += min(interval, float(retrier["MaxDelaySeconds"]))
        interval *= float(retrier["BackoffRate"])
        times.append(t)
    return times


def fixed_polls(latency: float, interval: float = FIXED_POLL_SECONDS) -> int:
    """Checks of a fixed-interval poller until one sees the task finished."""
    return max(1, math.ceil(latency / interval))


@dataclass(frozen=True)
class PollingSplit:
    """Our polling-mode usage per image as base work + polls x the work of one poll."""

    base: Usage
    per_poll: Usage


def split_polling(short: Usage, short_polls: float, long: Usage, long_polls: float) -> PollingSplit:
    """From two polling runs with different poll counts per image (same workload otherwise)."""
    if long_polls == short_polls:
        raise ValueError("two runs with different poll counts are needed")
    per_poll = (long - short).scaled(1 / (long_polls - short_polls))
    return PollingSplit(base=short - per_poll.scaled(short_polls), per_poll=per_poll)


def fixed_interval_design(split: PollingSplit, latency: float) -> Usage:
    """Polling inside the state machine every 5 s: our base work plus, per 5 s, one of our polls with
    the state transitions of the usual Wait -> status Task -> Choice loop (ours is one Retry)."""
    loop_poll = replace(split.per_poll, state_transitions=FIXED_LOOP_TRANSITIONS)
    return split.base + loop_poll.scaled(fixed_polls(latency))


def sleeping_lambda_design(split: PollingSplit, latency: float) -> Usage:
    """A Lambda that sleeps while it polls (status calls to the provider cost nothing on AWS): our
    base work plus one invocation lasting the whole latency at 128 MB arm64."""
    return split.base + Usage(lambda_requests=1, lambda_gb_seconds=SLEEPER_MEMORY_GB * latency)
