"""How a round's tasks are cut into the batches of the Distributed Map's manifest.

Step Functions bills one state transition per child execution a Distributed Map starts; an inline
Map's iterations inside the child are free (their states are billed). So a child runs a batch of
tasks, `width` of them at a time (the inline Map starts the next task when one ends), and as few
children as the history cap allows share the job's concurrency C:

- ceil(n / cap) batches or fewer than C: that many children at once, C split between their widths,
  each holding what its width runs in ceil(n / C) latencies (at most `cap`): at most C in flight,
  all n when n <= C, and with equal latencies the makespan of one task per child.
- more batches than C: C children at once, each running its batch one task after the other.

Batches are contiguous runs of the round's ordered tasks (a pipeline's come dependencies first), so
a task only ever waits on tasks of its own or earlier batches: a running batch never waits on one
that has not started, however few children run at once (strided batches could).
"""

from __future__ import annotations

import math

# Events of one child execution's history we allow ourselves: half of AWS's 25,000 per execution.
HISTORY_BUDGET = 12_500
# Events a task adds to its child's history when its token is answered (webhook, sync step, ended at
# submission): iteration started and succeeded, state entered and exited, scheduled, started,
# submitted, succeeded, plus three retried heartbeat timeouts of three events each.
EVENTS_PER_TASK = 17
# A polled task adds its Wait (entered, exited), its check (entered, exited) and a Catch to FailTask
# (entered, scheduled, started, succeeded, exited), then 3 events per status check: scheduled,
# started, failed or succeeded (as moto's history shows them; AWS adds none).
EVENTS_PER_POLLED_TASK = EVENTS_PER_TASK + 9
EVENTS_PER_POLL = 3
# The longest pause between two status checks: the MaxDelaySeconds of CheckCancellationAndStatus's
# Retry on TaskNotReady (statemachine/generation.asl.json; a contract test keeps them equal).
POLL_CAP_SECONDS = 120


def events_per_task(polled: bool, deadline_seconds: int) -> int:
    """The most history events one task can add to its child: a polled task is checked until its
    deadline at worst, once every POLL_CAP_SECONDS once the backoff reached its cap."""
    if not polled:
        return EVENTS_PER_TASK
    return EVENTS_PER_POLLED_TASK + EVENTS_PER_POLL * math.ceil(deadline_seconds / POLL_CAP_SECONDS)


def batch_cap(max_tasks: int, events_of_one: int) -> int:
    """The most tasks of one batch: the setting, lowered so that the child's history stays within
    HISTORY_BUDGET when every task adds `events_of_one` events (cap x events_of_one <= budget)."""
    return max(1, min(max_tasks, HISTORY_BUDGET // events_of_one))


def batches(indexes: list[int], concurrency: int, cap: int) -> list[tuple[int, list[int]]]:
    """The round's ordered tasks as (width, tasks) batches, contiguous and in order (module doc)."""
    n = len(indexes)
    rounds = math.ceil(n / concurrency)
    for count in range(math.ceil(n / cap), concurrency + 1):
        widths = [concurrency // count + (1 if k < concurrency % count else 0) for k in range(count)]
        sizes = [min(cap, width * rounds) for width in widths]
        if sum(sizes) >= n:  # the first (fewest children) that holds every task
            out, start = [], 0
            for width, size in zip(widths, sizes, strict=True):
                chunk = indexes[start : start + size]
                if chunk:
                    out.append((min(width, len(chunk)), chunk))
                start += size
            return out
    return [(1, indexes[start : start + cap]) for start in range(0, n, cap)]
