"""Cutting a round's tasks into the batches of the Distributed Map's manifest: never more in flight
than the job's concurrency, the makespan of one task per child, and a child's history bounded."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from genjobs.logic.batching import HISTORY_BUDGET, batch_cap, batches, events_per_task
from genjobs.logic.preparation import prepare
from tests.unit.fakes import FakeDeps, fake_deps
from tests.unit.scenario import created, granted

Batches = list[tuple[int, list[int]]]


def run(manifest: Batches, lanes: int, after: Callable[[int], int | None]) -> tuple[int, int] | None:
    """Runs the manifest as the workflow does, one tick per task: at most `lanes` children at once,
    each taking the next batch when one ends; a child runs its batch's tasks in order, `width` at a
    time; a task waits (holding its place) until the task it depends on has ended. Returns
    (ticks, most tasks in flight), or None when nothing can move (a deadlock)."""
    waiting, children, ended = list(manifest), [], set[int]()
    ticks = peak = 0
    while waiting or children:
        while waiting and len(children) < lanes:
            width, tasks = waiting.pop(0)
            children.append((width, list(tasks)))
        in_flight = [task for width, tasks in children for task in tasks[:width]]
        peak = max(peak, len(in_flight))
        finished = {t for t in in_flight if after(t) is None or after(t) in ended}
        if not finished:
            return None
        ended |= finished
        children = [(w, [t for t in tasks if t not in finished]) for w, tasks in children]
        children = [(w, tasks) for w, tasks in children if tasks]
        ticks += 1
    return ticks, peak


def independent(task: int) -> int | None:
    return None


@pytest.mark.parametrize(
    ("n", "concurrency"),
    [(5, 10), (10, 10), (20, 10), (150, 10), (10_000, 100), (11, 10), (150, 100), (130, 60), (7, 3)],
)
def test_a_round_never_has_more_in_flight_than_the_concurrency_and_takes_as_long_as_one_task_per_child(
    n: int, concurrency: int
) -> None:
    # GIVEN a round of n independent tasks of equal latency, cut with the default cap
    manifest = batches(list(range(n)), concurrency, cap=50)
    # THEN every task is in exactly one batch, in order
    assert [t for _, tasks in manifest for t in tasks] == list(range(n))
    # AND at most `concurrency` run at once, all of them when there are no more, in ceil(n / C) latencies
    result = run(manifest, concurrency, independent)
    assert result is not None
    ticks, peak = result
    assert peak <= concurrency
    assert peak == n or n > concurrency
    assert ticks == math.ceil(n / concurrency)


def test_a_round_within_the_concurrency_runs_all_at_once_in_as_few_children_as_the_cap_allows() -> None:
    assert batches(list(range(5)), 10, cap=50) == [(5, [0, 1, 2, 3, 4])]
    assert batches(list(range(10)), 10, cap=4) == [(4, [0, 1, 2, 3]), (3, [4, 5, 6]), (3, [7, 8, 9])]


def test_a_round_over_the_concurrency_shares_it_between_as_few_children_as_the_cap_allows() -> None:
    # 150 tasks 10 at a time: 4 children (3 would hold only 140 in the 15 rounds), widths summing to 10
    manifest = batches(list(range(150)), 10, cap=50)
    assert [(width, len(tasks)) for width, tasks in manifest] == [(3, 45), (3, 45), (2, 30), (2, 30)]
    # 150 tasks 100 at a time: 3 children of 50, not 75 children of 2
    assert [(w, len(t)) for w, t in batches(list(range(150)), 100, cap=50)] == [(34, 50), (33, 50), (33, 50)]
    # more batches than the concurrency: each child runs its batch one task after the other
    manifest = batches(list(range(10_000)), 100, cap=50)
    assert len(manifest) == 200
    assert {width for width, _ in manifest} == {1}


def test_a_chained_pipeline_with_more_batches_than_children_never_deadlocks() -> None:
    # GIVEN a chain (each task waits on the one before it), 7 batches of 3 and 2 children at once
    def chain(task: int) -> int | None:
        return task - 1 if task else None

    manifest = batches(list(range(20)), 2, cap=3)
    assert len(manifest) == 7
    # THEN contiguous batches run to the end: a running batch only waits on earlier ones
    assert run(manifest, 2, chain) is not None
    # AND the same tasks dealt out in stride (0, 7, 14 / 1, 8, 15 / ...) would wait on a batch not started
    strided = [(1, list(range(20))[lane::7]) for lane in range(7)]
    assert run(strided, 2, chain) is None


def test_a_polled_task_makes_smaller_batches_so_that_a_child_history_stays_bounded() -> None:
    day = 86_400
    # GIVEN tasks that wait on their token, and tasks polled until a day's deadline at worst
    answered, polled = events_per_task(False, day), events_per_task(True, day)
    # THEN a batch takes the setting's cap for the first, fewer of the second, each within the budget
    assert batch_cap(50, answered) == 50
    assert 1 < batch_cap(50, polled) < 50
    assert batch_cap(50, polled) * polled <= HISTORY_BUDGET
    # AND a shorter deadline allows longer batches of polled tasks
    assert batch_cap(50, events_per_task(True, 3_600)) > batch_cap(50, polled)


def test_a_prepared_job_over_its_concurrency_gets_one_child_running_its_concurrency_at_a_time(
    deps: FakeDeps,
) -> None:
    # GIVEN a 20-task webhook job run 5 at a time
    granted(deps, 100)
    job_id = created(deps, 20, model="sim-image-webhook", concurrency=5)
    # WHEN PrepareJob runs
    manifest = deps.storage.get_json(prepare(deps, job_id).manifest_key)
    # THEN its manifest is one batch of the 20 tasks, run 5 at a time (one child start, not 20 or 5)
    assert [(item["width"], [t["taskIndex"] for t in item["tasks"]]) for item in manifest] == [
        (5, list(range(20)))
    ]


def test_the_batch_setting_caps_a_batch() -> None:
    deps = fake_deps(MAX_TASKS_PER_BATCH=2)
    granted(deps, 100)
    job_id = created(deps, 5, model="sim-image-webhook", concurrency=10)
    manifest = deps.storage.get_json(prepare(deps, job_id).manifest_key)
    assert [item["width"] for item in manifest] == [2, 2, 1]
