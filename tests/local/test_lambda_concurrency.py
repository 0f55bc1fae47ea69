"""The local runtime's concurrency limit: over it, invocations wait for a slot in arrival order
(the stack gets slower under load), they never fail."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.local.conftest import Overlap

from genjobs_local import LocalStack
from genjobs_local.lambda_runtime import ConcurrencyLimit


def _start(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_slots_go_to_waiters_in_arrival_order() -> None:
    # GIVEN a limit of one, taken, and three threads lining up one after the other
    limit = ConcurrencyLimit(1)
    assert limit.acquire()
    order: list[int] = []

    def take(i: int) -> None:
        limit.acquire()
        order.append(i)
        limit.release()

    threads = []
    for i in range(3):
        threads.append(_start(take, i))
        _until(lambda n=i + 1: limit.waiting == n)

    # WHEN the slot is released
    limit.release()
    for thread in threads:
        thread.join(5)

    # THEN they had it one at a time, first come first served, and nothing is left taken
    assert order == [0, 1, 2]
    assert (limit.in_use, limit.waiting, limit.peak, limit.waited) == (0, 0, 1, 3)


def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    # GIVEN a limit of one, taken
    limit = ConcurrencyLimit(1)
    assert limit.acquire()
    cancel = threading.Event()

    # WHEN one waiter times out and another is cancelled
    assert not limit.acquire(timeout=0.05)
    result: list[bool] = []
    thread = _start(lambda: result.append(limit.acquire(cancel=cancel)))
    _until(lambda: limit.waiting == 1)
    cancel.set()
    thread.join(5)

    # THEN neither got a slot, the line is empty, and the slot is free once released
    assert result == [False]
    assert limit.waiting == 0
    limit.release()
    assert limit.acquire(timeout=0)


def test_a_nested_invocation_in_the_same_thread_takes_no_second_slot() -> None:
    # GIVEN a limit of one
    limit = ConcurrencyLimit(1)

    # WHEN a block holding the slot runs another block that needs one
    with limit.slot(), limit.slot():
        inner = limit.in_use

    # THEN it ran in the same slot (no deadlock), which is free afterwards
    assert inner == 1
    assert limit.in_use == 0


def test_invocations_over_the_limit_wait_and_all_succeed(stack: LocalStack, fake: Any) -> None:
    # GIVEN a function that takes a while and counts how many copies of it run at once
    overlap = Overlap()

    def slow(event: Any, context: Any) -> int:
        with overlap:
            time.sleep(0.05)
        return int(event["n"])

    fake("SweeperFunction", slow)
    limit = stack.runner.limit.limit
    results: dict[int, Any] = {}

    # WHEN three times the limit are invoked at once
    def invoke(n: int) -> None:
        results[n] = stack.invoke("SweeperFunction", {"n": n})

    threads = [_start(invoke, n) for n in range(3 * limit)]
    for thread in threads:
        thread.join(30)

    # THEN every invocation succeeded, never more than the limit at once
    assert results == {n: n for n in range(3 * limit)}
    assert overlap.peak <= limit
