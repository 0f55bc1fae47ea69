"""Crash injection at the product's checkpoints (genjobs.checkpoints), for the fault tests.

Every function of the local stack gets `Crashes()` as its checkpoints. A test arms a boundary with
`genjobs_local.faults.arm(name, times, scope)`, scoped to a user or job id so other jobs in flight
are not touched, and for a number of crashes after which the boundary passes (so retries and
redeliveries go through). An armed boundary raises InjectedCrash there, so the handler fails exactly
like a crashed invocation, and the test checks that the workflow recovers by itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

# Every boundary the product marks (arming an unknown name is a typo in a test).
BOUNDARIES = frozenset(
    {
        "prepare.after_tasks_written",  # task items written, job not marked started
        "submit.after_provider_accepted",  # the provider has the prediction, we have not recorded it
        "outputs.after_stored",  # outputs copied into our bucket, task not marked COMPLETED
        "settle.after_finish",  # job final and credits settled, completion event not published
        "settle.after_publish",  # completion event published, not marked published
        "notify.before_push",  # push claimed for a device, not sent
    }
)


class InjectedCrash(Exception):
    """A crash injected at a checkpoint (its class name is the Lambda error type)."""


@dataclass
class _Arm:
    remaining: int
    fired: int = 0


_lock = threading.Lock()
_armed: dict[tuple[str, str | None], _Arm] = {}


class Crashes:
    """The checkpoints of every local function: each crashes where a test armed it."""

    def reach(self, name: str, *scopes: str | None) -> None:
        """Raises InjectedCrash if `name` is armed for one of `scopes` (a user or job id) or for all."""
        if not _armed:
            return
        with _lock:
            for scope in (*scopes, None):
                arm = _armed.get((name, scope))
                if arm is not None and arm.remaining > 0:
                    arm.remaining -= 1
                    arm.fired += 1
                    raise InjectedCrash(f"injected crash at {name}")


def arm(name: str, times: int = 1, scope: str | None = None) -> None:
    """The next `times` passes of `name` (for `scope`, a user or job id; None: any) crash."""
    if name not in BOUNDARIES:
        raise ValueError(f"unknown checkpoint {name!r}; known: {sorted(BOUNDARIES)}")
    with _lock:
        _armed[(name, scope)] = _Arm(remaining=times)


def fired(name: str, scope: str | None = None) -> int:
    """How many crashes `name` injected since it was armed for `scope`."""
    with _lock:
        arm = _armed.get((name, scope))
        return arm.fired if arm else 0


def disarm_all() -> None:
    with _lock:
        _armed.clear()
