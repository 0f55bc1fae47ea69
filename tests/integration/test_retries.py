"""A retry's one transaction on DynamoDB (moto): the job back to PROCESSING, the credits reserved and
the tasks reset, for more tasks than one transaction holds too; or nothing at all."""

from __future__ import annotations

import pytest

from genjobs.deps import Deps
from genjobs.logic import creation, settlement
from genjobs.logic.errors import PaymentRequired
from genjobs.logic.preparation import prepare
from genjobs.logic.task_end import end_task
from genjobs.models.api import RetryJobRequest
from genjobs.models.domain import JobStatus, LedgerKind, TaskStatus
from tests.integration.test_ledger import assert_invariant, grant, new_job

# More than the 100 items of one DynamoDB transaction.
TASKS = 150


def failed_job(deps: Deps, user: str, n: int) -> str:
    """A job of `n` tasks that all failed, settled and refunded."""
    job_id = new_job(deps, user, n)
    prepare(deps, job_id)
    job = deps.jobs.get(job_id)
    assert job is not None
    for task in deps.tasks.of_job(job_id):
        assert end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error="provider down")
    settlement.settle(deps, job_id)
    return job_id


def test_a_retry_of_more_tasks_than_a_transaction_holds_resets_every_one(deps: Deps) -> None:
    # GIVEN a failed job of 150 tasks and credits for it twice
    grant(deps, "alice", 2 * TASKS)
    job_id = failed_job(deps, "alice", TASKS)
    # WHEN it is retried
    creation.retry_job(deps, "alice", job_id, RetryJobRequest(), None)
    # THEN every task is PENDING as its second attempt, remembering the first
    tasks = list(deps.tasks.of_job(job_id))
    assert {(t.status, t.attempt) for t in tasks} == {(TaskStatus.PENDING, 2)}
    assert all(t.attempts[0].error == "provider down" for t in tasks)
    # AND the job counts them PENDING again with their credits reserved, once on the ledger
    job = deps.jobs.get(job_id)
    assert job is not None
    assert (job.status, job.retries, job.counts.pending, job.counts.failed) == (
        JobStatus.PROCESSING,
        1,
        TASKS,
        0,
    )
    assert (job.credits.reserved, job.credits.refunded) == (2 * TASKS, TASKS)
    assert deps.credits.account("alice").reserved == TASKS
    reserves = [e for e in deps.credits.ledger("alice", 1000) if e.kind == LedgerKind.RESERVE]
    assert {e.entry_id for e in reserves} == {f"JOB#{job_id}#RESERVE", f"JOB#{job_id}#RETRY#01#RESERVE"}
    assert_invariant(deps, "alice")


def test_a_retry_short_of_credits_changes_nothing(deps: Deps) -> None:
    # GIVEN a failed job of 150 tasks and fewer credits than its retry needs
    grant(deps, "bob", TASKS)
    job_id = failed_job(deps, "bob", TASKS)
    new_job(deps, "bob", 1)  # holds one of the credits
    before = (deps.jobs.get(job_id), list(deps.tasks.of_job(job_id)), deps.credits.account("bob"))
    # WHEN it is retried: 402
    with pytest.raises(PaymentRequired):
        creation.retry_job(deps, "bob", job_id, RetryJobRequest(), None)
    # THEN nothing was written
    assert (deps.jobs.get(job_id), list(deps.tasks.of_job(job_id)), deps.credits.account("bob")) == before
