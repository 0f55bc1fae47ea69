"""Percent progress as the app sees it: it moves on in steps and never goes backwards."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from genjobs.logic.views import progress
from genjobs.models.domain import Job, JobCredits, JobStatus, Task, TaskCounts, TaskStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def job(task_count: int, **counts: int) -> Job:
    return Job(
        jobId="j",
        userId="u",
        status=JobStatus.PROCESSING,
        provider="simulator",
        model="sim-image",
        taskCount=task_count,
        concurrency=2,
        counts=TaskCounts(**counts),
        credits=JobCredits(unitPrice=1, reserved=task_count),
        createdAt=NOW,
        updatedAt=NOW,
    )


def task(index: int, status: TaskStatus, progress: float | None = None) -> Task:
    return Task(jobId="j", index=index, status=status, input={}, progress=progress)


def test_a_task_that_ended_after_the_job_item_was_read_still_counts_whole() -> None:
    # GIVEN a read that saw task 0 at 75% ...
    before = progress(
        job(2, processing=2), [task(0, TaskStatus.PROCESSING, 75.0), task(1, TaskStatus.PENDING)]
    )
    # WHEN the next read gets the job item before task 0 ended and the task item after it
    after = progress(
        job(2, processing=2), [task(0, TaskStatus.COMPLETED, 100.0), task(1, TaskStatus.PENDING)]
    )
    # THEN the figure does not go back
    assert (before, after) == (37.5, 50.0)


def test_without_every_task_at_hand_progress_is_ended_tasks_over_all() -> None:
    assert (
        progress(job(4, completed=1, failed=1, processing=2), [task(0, TaskStatus.PROCESSING, 50.0)]) == 50.0
    )
    assert progress(job(0)) == 100.0


states = st.lists(
    st.tuples(st.sampled_from(list(TaskStatus)), st.floats(min_value=0, max_value=100)),
    min_size=1,
    max_size=20,
)


@given(states, st.data())
def test_progress_never_goes_back_when_each_task_only_moves_forward(first: list, data: st.DataObject) -> None:
    order = {TaskStatus.PENDING: 0, TaskStatus.PROCESSING: 1}
    before = [task(i, s, p) for i, (s, p) in enumerate(first)]
    after = []
    for t in before:
        # each task stays, gains progress, or moves to a later status
        if t.status.terminal:
            after.append(t)
            continue
        later = [s for s in TaskStatus if s.terminal or order.get(s, 2) >= order[t.status]]
        status = data.draw(st.sampled_from(later))
        gained = data.draw(st.floats(min_value=t.progress or 0.0, max_value=100))
        after.append(task(t.index, status, gained))
    stale = job(len(before))  # a job item read before any of it
    assert progress(stale, after) >= progress(stale, before)
