"""Cancelling a job: a flag every step checks; finished outputs are kept and charged, the rest refunded."""

from __future__ import annotations

import pytest

from genjobs.logic import jobs, settlement, submission
from genjobs.logic.errors import Conflict, NotFound
from genjobs.models.domain import JobStatus, TaskStatus
from tests.unit.fakes import FakeDeps, FakeProvider
from tests.unit.scenario import (
    ENDED,
    USER,
    answers,
    created,
    granted,
    invariant_holds,
    message,
    prepared,
    submitted,
    task_of,
    task_succeeded,
)


def test_cancelling_an_active_job_marks_it_cancelling_and_asks_for_the_provider_cancels(
    deps: FakeDeps,
) -> None:
    # GIVEN a running job
    granted(deps)
    job_id = created(deps, 2)
    # WHEN its owner cancels it
    view = jobs.cancel_job(deps, USER, job_id)
    # THEN it is CANCELLING, the submitter is asked to stop its tasks now, the timeline says who
    assert view.status == JobStatus.CANCELLING
    assert deps.world.jobs[job_id].cancel_requested
    assert deps.submit_queue.cancels == [job_id]
    assert "job.cancel_requested" in deps.world.kinds(job_id)


def test_cancel_reads_the_job_once(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 2)
    deps.jobs.reads = 0
    jobs.cancel_job(deps, USER, job_id)
    assert deps.jobs.reads == 1


def test_cancelling_twice_is_the_same_as_once(deps: FakeDeps) -> None:
    # GIVEN a cancelled job
    granted(deps)
    job_id = created(deps, 2)
    first = jobs.cancel_job(deps, USER, job_id)
    # WHEN it is cancelled again
    second = jobs.cancel_job(deps, USER, job_id)
    # THEN nothing more happens: one request, one provider-cancel message, same answer
    assert second.status == first.status == JobStatus.CANCELLING
    assert deps.submit_queue.cancels == [job_id]
    assert deps.world.kinds(job_id).count("job.cancel_requested") == 1


def test_a_cancelled_job_that_settled_can_still_be_cancelled_idempotently(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 2)
    jobs.cancel_job(deps, USER, job_id)
    settlement.settle(deps, job_id)
    assert jobs.cancel_job(deps, USER, job_id).status == JobStatus.CANCELLED


@pytest.mark.parametrize("ended", [JobStatus.COMPLETED, JobStatus.FAILED])
def test_a_job_that_already_ended_cannot_be_cancelled(deps: FakeDeps, ended: JobStatus) -> None:
    granted(deps)
    job_id = created(deps, 1)
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"status": ended})
    with pytest.raises(Conflict):
        jobs.cancel_job(deps, USER, job_id)
    assert deps.submit_queue.cancels == []


@pytest.mark.parametrize("job_id", ["not-a-job-id", "00000000-0000-4000-8000-000000000000"])
def test_cancelling_a_job_that_does_not_exist_is_not_found(deps: FakeDeps, job_id: str) -> None:
    with pytest.raises(NotFound):
        jobs.cancel_job(deps, USER, job_id)


def test_another_users_job_cannot_be_cancelled_and_is_not_found(deps: FakeDeps) -> None:
    granted(deps, user="bob")
    job_id = created(deps, 1, user="bob")
    with pytest.raises(NotFound):
        jobs.cancel_job(deps, USER, job_id)
    assert deps.world.jobs[job_id].status == JobStatus.PENDING


def test_a_cancel_whose_message_cannot_be_sent_is_still_recorded_for_the_sweeper(deps: FakeDeps) -> None:
    # GIVEN a started job, and SQS unreachable
    granted(deps)
    job_id = prepared(deps, 1)
    deps.submit_queue.unreachable = True
    # WHEN the job is cancelled
    view = jobs.cancel_job(deps, USER, job_id)
    # THEN it is cancelling, and marked for the sweeper's provider cancels
    assert view.status == JobStatus.CANCELLING
    assert deps.jobs.cancelling() == [job_id]


def test_tasks_not_submitted_when_the_job_is_cancelled_end_cancelled_and_refunded(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a cancelled job whose tasks are written but not submitted
    granted(deps)
    job_id = prepared(deps, 2)
    jobs.cancel_job(deps, USER, job_id)
    # WHEN the submitter gets the tasks
    for i in range(2):
        submission.submit(deps, message(job_id, i, f"t{i}"), 1)
    # THEN they end CANCELLED, never reach the provider, and are refunded
    assert [answers(deps, f"t{i}") for i in range(2)] == [[ENDED], [ENDED]]
    assert provider.submitted == []
    assert [task_of(deps, job_id, i).status for i in range(2)] == [TaskStatus.CANCELLED] * 2
    assert deps.credits.account(USER).reserved == 0


def test_cancel_keeps_finished_outputs_and_refunds_the_rest(deps: FakeDeps, provider: FakeProvider) -> None:
    # GIVEN a 3-task job with one task completed and two still running
    granted(deps, 10)
    job_id = submitted(deps, 3)
    task_succeeded(deps, job_id, 0)
    # WHEN alice cancels and the job settles
    jobs.cancel_job(deps, USER, job_id)
    settlement.settle(deps, job_id)
    # THEN the finished output is kept and charged, the other two refunded
    done = deps.world.jobs[job_id]
    assert done.status == JobStatus.CANCELLED
    assert (done.counts.completed, done.counts.cancelled) == (1, 2)
    assert task_of(deps, job_id, 0).outputs[0].key in deps.storage.objects
    account = deps.credits.account(USER)
    assert (account.available, account.reserved, account.charged) == (9, 0, 1)
    assert invariant_holds(deps)


def test_a_job_cancelled_before_it_started_is_marked_prepared_without_starting(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 2)
    jobs.cancel_job(deps, USER, job_id)
    from genjobs.logic.preparation import prepare

    prepare(deps, job_id)
    job = deps.world.jobs[job_id]
    assert (job.status, job.prepared) == (JobStatus.CANCELLING, True)
