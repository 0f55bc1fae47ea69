"""Settling a job: its final status from its counts, every credit still reserved released exactly
once, tasks left open closed, and one completion event."""

from __future__ import annotations

import pytest

from genjobs.logic import jobs, settlement
from genjobs.models.domain import JobStatus, LedgerKind, TaskStatus
from genjobs.models.messages import JobEvent
from tests.unit.fakes import FakeDeps, FakeProvider
from tests.unit.scenario import (
    USER,
    cancelled_while_running,
    created,
    granted,
    invariant_holds,
    submitted,
    task_failed,
    task_of,
    task_succeeded,
)


def settled_after_one_completed(deps: FakeDeps, n: int) -> str:
    """A job of `n` tasks whose first completed, settled while the others still ran (they end FAILED)."""
    granted(deps)
    job_id = submitted(deps, n)
    task_succeeded(deps, job_id, 0)
    settlement.settle(deps, job_id)
    return job_id


@pytest.mark.parametrize(
    ("completed", "failed", "cancel", "final"),
    [
        (3, 0, False, JobStatus.COMPLETED),
        (1, 2, False, JobStatus.COMPLETED),
        (0, 3, False, JobStatus.FAILED),
        (1, 0, True, JobStatus.CANCELLED),
        (3, 0, True, JobStatus.COMPLETED),
        (0, 0, True, JobStatus.CANCELLED),
    ],
)
def test_the_final_status_follows_from_what_the_tasks_did(
    deps: FakeDeps, provider: FakeProvider, completed: int, failed: int, cancel: bool, final: JobStatus
) -> None:
    # GIVEN a 3-task job with some tasks completed, some failed, maybe cancelled
    granted(deps)
    job_id = submitted(deps, 3)
    for i in range(completed):
        task_succeeded(deps, job_id, i)
    for i in range(completed, completed + failed):
        task_failed(deps, job_id, i)
    if cancel:
        jobs.cancel_job(deps, USER, job_id)
    # WHEN it settles
    answer = settlement.settle(deps, job_id)
    # THEN its status is as expected, nothing is reserved any more, charges equal completed tasks
    assert answer.status == deps.world.jobs[job_id].status == final
    account = deps.credits.account(USER)
    assert (account.reserved, account.charged) == (0, completed)
    assert invariant_holds(deps)


def test_settling_twice_releases_and_publishes_once(deps: FakeDeps, provider: FakeProvider) -> None:
    # GIVEN a job with one task completed and two failed
    granted(deps)
    job_id = submitted(deps, 3)
    task_succeeded(deps, job_id, 0)
    # WHEN the settlement runs twice (a replayed state)
    settlement.settle(deps, job_id)
    after_first = (deps.credits.account(USER), list(deps.world.ledger), deps.world.jobs[job_id])
    settlement.settle(deps, job_id)
    # THEN the second run changed nothing and published nothing more
    assert (deps.credits.account(USER), list(deps.world.ledger), deps.world.jobs[job_id]) == after_first
    assert len(deps.notifications.published) == 1
    assert deps.world.kinds(job_id).count("job.settled") == 1


def test_settlement_counts_the_tasks_it_closed(deps: FakeDeps, provider: FakeProvider) -> None:
    # GIVEN a 3-task job whose workflow ended with one task completed, one running, one pending
    granted(deps)
    job_id = submitted(deps, 3, only=2)
    task_succeeded(deps, job_id, 0)
    # WHEN it settles
    settlement.settle(deps, job_id)
    # THEN the open tasks FAILED (the job was not cancelled), counted and refunded
    job = deps.world.jobs[job_id]
    assert (
        job.status,
        job.counts.completed,
        job.counts.failed,
        job.counts.processing,
        job.counts.pending,
    ) == (
        JobStatus.COMPLETED,
        1,
        2,
        0,
        0,
    )
    assert (job.credits.charged, job.credits.refunded) == (1, 2)
    assert [task_of(deps, job_id, i).status for i in range(3)] == [
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.FAILED,
    ]


def test_settlement_reads_the_job_once(deps: FakeDeps, provider: FakeProvider) -> None:
    granted(deps)
    job_id = submitted(deps, 2)
    task_succeeded(deps, job_id, 0)
    deps.jobs.reads = 0
    settlement.settle(deps, job_id)
    assert deps.jobs.reads == 1


def test_the_published_event_carries_the_settled_counts_and_credits(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    job_id = settled_after_one_completed(deps, 2)
    ((event_type, event),) = deps.notifications.published
    assert event_type == "job.completed"
    assert event["counts"]["completed"] == 1
    assert event["counts"]["failed"] == 1
    assert event["credits"]["charged"] == 1
    assert event["credits"]["refunded"] == 1
    assert event == JobEvent.of(deps.world.jobs[job_id]).to_wire()


def test_a_job_whose_tasks_were_never_written_releases_everything(deps: FakeDeps) -> None:
    # GIVEN a 3-task job that never got prepared
    granted(deps, 5)
    job_id = created(deps, 3)
    # WHEN it settles
    settlement.settle(deps, job_id)
    # THEN it FAILED, its unstarted tasks counted FAILED, and all 3 credits are back
    job = deps.world.jobs[job_id]
    assert (job.status, job.counts.failed, job.counts.pending) == (JobStatus.FAILED, 3, 0)
    assert deps.credits.account(USER).available == 5
    assert [e.kind for e in deps.credits.ledger(USER)].count(LedgerKind.RELEASE) == 1


def test_unstarted_tasks_of_a_cancelled_job_count_as_cancelled(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 4)
    jobs.cancel_job(deps, USER, job_id)
    settlement.settle(deps, job_id)
    assert deps.world.jobs[job_id].counts.cancelled == 4


def test_settlement_of_a_cancelled_job_asks_the_provider_to_stop_running_tasks(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    job_id = cancelled_while_running(deps, 2)
    settlement.settle(deps, job_id)
    assert sorted(provider.cancelled) == sorted(task_of(deps, job_id, i).provider_id for i in range(2))


def test_a_provider_cancel_that_fails_does_not_stop_the_settlement(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    from genjobs.providers.base import ProviderUnavailable

    job_id = cancelled_while_running(deps, 1)

    def refuse(provider_id: str) -> None:
        raise ProviderUnavailable("down")

    provider.cancel = refuse  # type: ignore[method-assign, assignment]
    assert settlement.settle(deps, job_id).status == "CANCELLED"
    assert deps.credits.account(USER).reserved == 0


def test_a_job_that_does_not_exist_cannot_be_settled(deps: FakeDeps) -> None:
    with pytest.raises(LookupError):
        settlement.settle(deps, "nope")


def test_the_completion_event_is_published_again_if_it_was_not_marked(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a settled job whose publication was not marked (a crash between publish and mark)
    job_id = settled_after_one_completed(deps, 1)
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"event_published_at": None})
    # WHEN the settlement is replayed
    settlement.settle(deps, job_id)
    # THEN the event goes out again (the notifier pushes each device once) and is marked
    assert len(deps.notifications.published) == 2
    assert deps.world.jobs[job_id].event_published_at is not None
