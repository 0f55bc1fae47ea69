"""The credit ledger: reserve at creation, charge per completed task, release the rest, once."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genjobs.deps import Deps
from genjobs.logic import jobs, settlement
from genjobs.logic.errors import PaymentRequired
from genjobs.logic.ports import Accepted
from genjobs.logic.preparation import prepare
from genjobs.logic.task_end import end_task
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import LedgerKind, TaskStatus, TimelineEvent, utcnow


def grant(deps: Deps, user: str, amount: int) -> None:
    assert deps.credits.grant(user, amount, f"g-{uuid.uuid4()}", "test")


def new_job(deps: Deps, user: str, n: int, model: str = "sim-image") -> str:
    request = CreateJobRequest(provider="simulator", model=model, tasks=[{"i": i} for i in range(n)])
    return jobs.create_job(deps, user, request, None).job_id


def assert_invariant(deps: Deps, user: str) -> None:
    account = deps.credits.account(user)
    assert account.granted == account.available + account.reserved + account.charged
    assert min(account.available, account.reserved, account.charged) >= 0
    charges = [e for e in deps.credits.ledger(user, 1000) if e.kind == LedgerKind.CHARGE]
    assert account.charged == sum(e.amount for e in charges)
    assert len({(e.job_id, e.task_index) for e in charges}) == len(charges)  # no task charged twice


def test_creation_reserves_the_whole_plan(deps: Deps) -> None:
    # GIVEN a user with 10 credits
    grant(deps, "alice", 10)
    # WHEN a 3-task job of a 3-credit model is created
    job_id = new_job(deps, "alice", 3, model="sim-3d")
    # THEN 9 credits are reserved and recorded
    account = deps.credits.account("alice")
    assert (account.available, account.reserved, account.charged) == (1, 9, 0)
    job = deps.jobs.get(job_id)
    assert job is not None
    assert job.credits.reserved == 9
    assert job.counts.pending == 3
    assert_invariant(deps, "alice")


def test_insufficient_credits_is_402_and_creates_nothing(deps: Deps) -> None:
    grant(deps, "bob", 2)
    with pytest.raises(PaymentRequired):
        new_job(deps, "bob", 3)
    account = deps.credits.account("bob")
    assert (account.available, account.reserved) == (2, 0)
    assert jobs.list_jobs(deps, "bob", status=None, collection_id=None, limit=10, cursor=None).items == []
    assert [e.kind for e in deps.credits.ledger("bob")] == [LedgerKind.GRANT]


def test_completed_task_is_charged_once_even_when_replayed(deps: Deps) -> None:
    # GIVEN a started 2-task job
    grant(deps, "carol", 5)
    job_id = new_job(deps, "carol", 2)
    prepare(deps, job_id)
    job = deps.jobs.get(job_id)
    task = deps.tasks.get(job_id, 0)
    assert job
    assert task
    # WHEN the same completion is applied twice (a replayed step)
    assert end_task(deps, job, task, TaskStatus.COMPLETED, "task.completed")
    assert not end_task(deps, job, task, TaskStatus.COMPLETED, "task.completed")
    # THEN one credit is charged
    assert deps.credits.account("carol").charged == 1
    assert_invariant(deps, "carol")


def test_settlement_charges_finished_work_and_refunds_the_rest_once(deps: Deps) -> None:
    # GIVEN a cancelled 4-task job with one task completed and one failed
    grant(deps, "dan", 10)
    job_id = new_job(deps, "dan", 4)
    prepare(deps, job_id)
    job = deps.jobs.get(job_id)
    assert job
    end_task(deps, job, deps.tasks.get(job_id, 0), TaskStatus.COMPLETED, "task.completed")  # type: ignore[arg-type]
    end_task(deps, job, deps.tasks.get(job_id, 1), TaskStatus.FAILED, "task.failed")  # type: ignore[arg-type]
    deps.jobs.request_cancel(job, TimelineEvent(jobId=job_id, at=utcnow(), kind="job.cancel_requested"))
    # WHEN the job settles twice
    settlement.settle(deps, job_id)
    settlement.settle(deps, job_id)
    # THEN 1 charged, 3 refunded, the job CANCELLED
    job = deps.jobs.get(job_id)
    assert job
    assert job.status.value == "CANCELLED"
    assert (job.credits.charged, job.credits.refunded) == (1, 3)
    account = deps.credits.account("dan")
    assert (account.available, account.reserved, account.charged) == (9, 0, 1)
    assert_invariant(deps, "dan")


def test_settling_a_job_whose_tasks_never_existed_releases_everything(deps: Deps) -> None:
    grant(deps, "erin", 5)
    job_id = new_job(deps, "erin", 5)
    assert settlement.settle(deps, job_id).status == "FAILED"
    assert deps.credits.account("erin").available == 5
    assert_invariant(deps, "erin")


OPS = st.lists(
    st.tuples(
        st.sampled_from(["complete", "fail", "cancel_task", "cancel_job", "settle", "submit"]),
        st.integers(0, 5),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3), ops=OPS, replays=st.booleans())
def test_random_histories_keep_the_ledger_invariant(
    deps: Deps, sizes: list[int], ops: list, replays: bool
) -> None:
    # GIVEN a user with a few jobs
    user = f"u-{uuid.uuid4()}"
    grant(deps, user, 100)
    job_ids = [new_job(deps, user, n) for n in sizes]
    for job_id in job_ids:
        prepare(deps, job_id)
    # WHEN any sequence of completions, failures, cancels and settlements happens (each maybe twice)
    for op, pick in ops:
        job_id = job_ids[pick % len(job_ids)]
        job = deps.jobs.get(job_id)
        assert job
        task = deps.tasks.get(job_id, pick % job.task_count)
        assert task
        for _ in range(2 if replays else 1):
            if op == "settle":
                settlement.settle(deps, job_id)
            elif op == "cancel_job":
                deps.jobs.request_cancel(job, TimelineEvent(jobId=job_id, at=utcnow(), kind="x"))
            elif job.status.terminal or task.status.terminal:
                continue
            elif op == "submit" and task.status == TaskStatus.PENDING:
                accepted = Accepted(f"p-{task.index}", utcnow())
                event = TimelineEvent(jobId=job_id, at=utcnow(), kind="x")
                deps.tasks.mark_submitted(job, task.index, accepted, event)
            elif op in {"complete", "fail", "cancel_task"}:
                to = {"complete": TaskStatus.COMPLETED, "fail": TaskStatus.FAILED}.get(
                    op, TaskStatus.CANCELLED
                )
                end_task(deps, job, task, to, "x")
        # THEN the invariant holds after every step
        assert_invariant(deps, user)
    # AND once every job settles, nothing stays reserved and charges equal completed tasks
    for job_id in job_ids:
        settlement.settle(deps, job_id)
    account = deps.credits.account(user)
    assert account.reserved == 0
    completed = sum(deps.jobs.get(j).counts.completed for j in job_ids)  # type: ignore[union-attr]
    assert account.charged == completed
    assert_invariant(deps, user)
