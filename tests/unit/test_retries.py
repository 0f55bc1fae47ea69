"""Retrying an ended job (logic.retries) on the in-memory fakes: what runs again, what it reserves,
the refusals, and the next attempt's provider key."""

from __future__ import annotations

import pytest

from genjobs.logic import creation, operations, settlement, submission
from genjobs.logic.errors import Conflict, PaymentRequired
from genjobs.logic.tasks import submission_key
from genjobs.models.api import RetryJobRequest
from genjobs.models.domain import JobStatus, TaskStatus
from genjobs.models.operations import BulkJobsRequest
from tests.unit.fakes import FakeDeps, FakeProvider
from tests.unit.scenario import (
    USER,
    granted,
    invariant_holds,
    job_of,
    message,
    submitted,
    task_failed,
    task_of,
    task_succeeded,
)

FAILED = RetryJobRequest()


def ended_with_one_failure(deps: FakeDeps) -> str:
    if not deps.credits.account(USER).granted:
        granted(deps)
    job_id = submitted(deps, 3)
    task_succeeded(deps, job_id, 0)
    task_failed(deps, job_id, 1)
    task_succeeded(deps, job_id, 2)
    settlement.settle(deps, job_id)
    return job_id


def test_only_the_failed_task_runs_again_with_its_price_reserved(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a 3-task job that ended with its second task failed
    job_id = ended_with_one_failure(deps)
    # WHEN it is retried
    view = creation.retry_job(deps, USER, job_id, FAILED, None)
    # THEN it runs again as PROCESSING, only the failed task is PENDING as attempt 2, and one credit is reserved
    assert view.status == JobStatus.PROCESSING
    assert [task_of(deps, job_id, i).status for i in range(3)] == [
        TaskStatus.COMPLETED,
        TaskStatus.PENDING,
        TaskStatus.COMPLETED,
    ]
    retried = task_of(deps, job_id, 1)
    assert retried.attempt == 2
    assert [a.status for a in retried.attempts] == [TaskStatus.FAILED]
    assert deps.credits.account(USER).reserved == 1
    assert job_of(deps, job_id).credits.reserved == 4
    assert deps.workflow.started[-1] == f"{job_id}-r1"
    assert invariant_holds(deps)
    # AND its next submission is a new prediction at the provider, the first kept its key
    assert submission_key(job_id, retried) == f"{job_id}:1:a2"
    assert submission_key(job_id, task_of(deps, job_id, 0)) == f"{job_id}:0"


def test_a_running_job_or_one_with_nothing_failed_is_a_conflict(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    granted(deps)
    running = submitted(deps, 1)
    with pytest.raises(Conflict, match="once it has ended"):
        creation.retry_job(deps, USER, running, FAILED, None)
    task_succeeded(deps, running, 0)
    settlement.settle(deps, running)
    with pytest.raises(Conflict, match="nothing to retry"):
        creation.retry_job(deps, USER, running, FAILED, None)


def test_short_credits_change_nothing(deps: FakeDeps, provider: FakeProvider) -> None:
    # GIVEN an ended job with a failed task and no credit left
    job_id = ended_with_one_failure(deps)
    submitted(deps, deps.credits.account(USER).available)  # holds every credit left
    before = (job_of(deps, job_id), task_of(deps, job_id, 1), deps.credits.account(USER))
    # WHEN it is retried: 402, and nothing moved
    with pytest.raises(PaymentRequired):
        creation.retry_job(deps, USER, job_id, FAILED, None)
    assert (job_of(deps, job_id), task_of(deps, job_id, 1), deps.credits.account(USER)) == before


def test_retries_are_bounded(provider: FakeProvider) -> None:
    from tests.unit.fakes import fake_deps

    deps = fake_deps(MAX_JOB_RETRIES=1)
    job_id = ended_with_one_failure(deps)
    creation.retry_job(deps, USER, job_id, FAILED, None)
    submission.submit(deps, message(job_id, 1, "tok-r1"), 1)
    task_failed(deps, job_id, 1)
    settlement.settle(deps, job_id)
    assert job_of(deps, job_id).status == JobStatus.COMPLETED
    with pytest.raises(Conflict, match="at most 1"):
        creation.retry_job(deps, USER, job_id, FAILED, None)


def test_a_bulk_page_delivered_twice_retries_each_job_once(deps: FakeDeps, provider: FakeProvider) -> None:
    # GIVEN two ended jobs with a failed task and an operation over every job of their model (a retried one still matches)
    first, second = ended_with_one_failure(deps), ended_with_one_failure(deps)
    request = BulkJobsRequest.model_validate({"action": "retry", "filter": {"model": "sim-image"}})
    assert operations.start(deps, "ops", request.model_copy(update={"dry_run": True})).matched == 2
    started = operations.start(deps, "ops", request)
    assert started.operation_id is not None
    (page,) = deps.bulk_queue.sent
    # WHEN its page is delivered twice
    operations.run_page(deps, page)
    operations.run_page(deps, page)
    # THEN each job was retried once, counted once, and the operation is done
    assert [job_of(deps, j).retries for j in (first, second)] == [1, 1]
    progress = operations.get(deps, started.operation_id)
    assert (progress.status, progress.done, progress.skipped) == ("DONE", 2, 0)
    assert len(deps.bulk_queue.sent) == 1
