"""Acting on what a provider reports (a poll, a webhook, the sweeper), and the bounds of every wait."""

from __future__ import annotations

from datetime import timedelta

import pytest

from genjobs.logic import jobs, task_end, tasks
from genjobs.logic.outputs import OutputGone, OutputUnavailable
from genjobs.models.domain import TaskStatus, utcnow
from genjobs.models.messages import CaughtError, FailTaskInput
from genjobs.providers.base import CancelOutcome, ProviderUnavailable, TaskState
from tests.unit.fakes import FakeDeps, FakeProvider, data_uri
from tests.unit.scenario import USER, granted, invariant_holds, observed, ref, submitted, task_of


@pytest.fixture
def job_id(deps: FakeDeps, provider: FakeProvider) -> str:
    granted(deps)
    return submitted(deps, 2)


def apply(deps: FakeDeps, job_id: str, status: object, index: int = 0) -> tasks.Wait:
    return tasks.apply_status(deps, deps.world.jobs[job_id], task_of(deps, job_id, index), status)  # type: ignore[arg-type]


def test_a_success_keeps_the_outputs_then_completes_and_charges_the_task(deps: FakeDeps, job_id: str) -> None:
    # WHEN the provider reports success with two files
    answer = apply(deps, job_id, observed(TaskState.SUCCEEDED, outputs=[data_uri("a"), data_uri("bb")]))
    # THEN both are in our bucket, the task COMPLETED at 100 %, one credit charged
    assert answer is tasks.DONE
    task = task_of(deps, job_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.progress == 100.0
    assert [deps.storage.objects[o.key][0] for o in task.outputs] == [b"a", b"bb"]
    assert deps.credits.account(USER).charged == 1
    assert deps.world.kinds(job_id)[-2:] == ["task.outputs_stored", "task.completed"]
    assert invariant_holds(deps)


def test_a_success_without_output_fails_and_is_not_charged(deps: FakeDeps, job_id: str) -> None:
    apply(deps, job_id, observed(TaskState.SUCCEEDED, outputs=[]))
    task = task_of(deps, job_id)
    assert task.status == TaskStatus.FAILED
    assert (task.error or "").startswith(tasks.NO_OUTPUT)
    assert deps.credits.account(USER).charged == 0


def test_a_success_without_output_completes_when_the_model_says_outputs_are_optional(
    deps: FakeDeps, job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "_output_optional", lambda deps, job: True)
    apply(deps, job_id, observed(TaskState.SUCCEEDED, outputs=[]))
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED


def test_a_failure_at_the_provider_fails_the_task_with_its_error_and_refunds_it(
    deps: FakeDeps, job_id: str
) -> None:
    assert apply(deps, job_id, observed(TaskState.FAILED, error="NSFW")) is tasks.DONE
    task = task_of(deps, job_id)
    assert (task.status, task.error) == (TaskStatus.FAILED, "NSFW")
    assert deps.world.jobs[job_id].credits.refunded == 1


def test_a_cancellation_at_the_provider_cancels_the_task(deps: FakeDeps, job_id: str) -> None:
    assert apply(deps, job_id, observed(TaskState.CANCELED)) is tasks.DONE
    assert task_of(deps, job_id).status == TaskStatus.CANCELLED
    assert deps.world.jobs[job_id].counts.cancelled == 1


@pytest.mark.parametrize("state", [TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELED])
def test_a_second_report_of_an_ended_task_changes_nothing(
    deps: FakeDeps, job_id: str, state: TaskState
) -> None:
    # GIVEN a task that already completed
    apply(deps, job_id, observed(TaskState.SUCCEEDED, outputs=[data_uri()]))
    before = (task_of(deps, job_id), deps.credits.account(USER), deps.world.jobs[job_id].counts)
    # WHEN another report arrives (a duplicate webhook, a late poll)
    assert apply(deps, job_id, observed(state, outputs=[data_uri("late")])) is tasks.DONE
    # THEN nothing moved
    assert (task_of(deps, job_id), deps.credits.account(USER), deps.world.jobs[job_id].counts) == before


def test_a_report_racing_another_that_ended_the_task_charges_once(deps: FakeDeps, job_id: str) -> None:
    # GIVEN two observers that read the task while it ran
    job, stale = deps.world.jobs[job_id], task_of(deps, job_id)
    # WHEN both apply a success
    tasks.apply_status(deps, job, stale, observed(TaskState.SUCCEEDED, outputs=[data_uri()]))
    tasks.apply_status(deps, job, stale, observed(TaskState.SUCCEEDED, outputs=[data_uri()]))
    # THEN one charge
    assert deps.credits.account(USER).charged == 1
    assert deps.world.jobs[job_id].counts.completed == 1


@pytest.mark.parametrize(
    ("before", "reported", "kept"),
    [(None, 30.0, 30.0), (30.0, 60.0, 60.0), (60.0, 40.0, 60.0), (60.0, None, 60.0), (0.0, 0.0, 0.0)],
)
def test_progress_moves_on_and_never_goes_back(
    deps: FakeDeps, job_id: str, before: float | None, reported: float | None, kept: float
) -> None:
    key = (job_id, 0)
    deps.world.tasks[key] = deps.world.tasks[key].model_copy(update={"progress": before})
    assert apply(deps, job_id, observed(TaskState.RUNNING, progress=reported)) is tasks.RUNNING
    assert (task_of(deps, job_id).progress or 0.0) == kept


def test_a_running_report_counts_the_poll_and_clears_the_error_streak(deps: FakeDeps, job_id: str) -> None:
    key = (job_id, 0)
    deps.world.tasks[key] = deps.world.tasks[key].model_copy(update={"poll_errors": 2, "poll_count": 4})
    apply(deps, job_id, observed(TaskState.QUEUED))
    task = task_of(deps, job_id)
    assert (task.status, task.poll_errors, task.poll_count) == (TaskStatus.PROCESSING, 0, 5)


# ---------------------------------------------------------------- observation failures (limit: 3)
def failed_observation(deps: FakeDeps, job_id: str, error: Exception) -> tasks.Wait:
    return tasks.observation_failed(deps, deps.world.jobs[job_id], task_of(deps, job_id), error)  # type: ignore[arg-type]


@pytest.mark.parametrize(("errors_before", "ends"), [(0, False), (1, False), (2, True)])
def test_consecutive_observation_failures_fail_the_task_at_the_bound(
    deps: FakeDeps, job_id: str, errors_before: int, ends: bool
) -> None:
    # GIVEN a task whose last observations failed (MAX_CONSECUTIVE_POLL_ERRORS is 3 here)
    key = (job_id, 0)
    deps.world.tasks[key] = deps.world.tasks[key].model_copy(update={"poll_errors": errors_before})
    # WHEN one more fails
    answer = failed_observation(deps, job_id, ProviderUnavailable("503"))
    # THEN it ends FAILED and refunded exactly at the bound, else it keeps running and counts it
    task = task_of(deps, job_id)
    if ends:
        assert answer is tasks.DONE
        assert task.status == TaskStatus.FAILED
        assert (task.error or "").startswith(tasks.TOO_MANY_ERRORS)
        assert deps.world.jobs[job_id].credits.refunded == 1
    else:
        assert answer is tasks.RUNNING
        assert task.status == TaskStatus.PROCESSING
        assert task.poll_errors == errors_before + 1
        assert deps.world.kinds(job_id)[-1] == "task.poll_error"


def test_an_output_gone_at_the_provider_fails_the_task_at_once(deps: FakeDeps, job_id: str) -> None:
    assert failed_observation(deps, job_id, OutputGone("410", status_code=410)) is tasks.DONE
    task = task_of(deps, job_id)
    assert task.status == TaskStatus.FAILED
    assert (task.error or "").startswith(tasks.OUTPUT_GONE)


@pytest.mark.parametrize("error", [OutputGone("404", status_code=404), OutputUnavailable("reset")])
def test_an_output_that_cannot_be_kept_for_a_cancelled_job_cancels_the_task(
    deps: FakeDeps, job_id: str, error: Exception
) -> None:
    jobs.cancel_job(deps, USER, job_id)
    assert failed_observation(deps, job_id, error) is tasks.DONE
    assert task_of(deps, job_id).status == TaskStatus.CANCELLED


def test_a_failed_download_counts_as_a_failed_observation(deps: FakeDeps, job_id: str) -> None:
    assert failed_observation(deps, job_id, OutputUnavailable("reset")) is tasks.RUNNING
    assert task_of(deps, job_id).poll_errors == 1


# ---------------------------------------------------------------- polling
def test_a_poll_of_a_running_task_raises_not_ready(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    with pytest.raises(tasks.TaskNotReady):
        tasks.poll(deps, ref(job_id))
    assert provider.polled == [task_of(deps, job_id).provider_id]


def test_a_poll_that_finds_the_task_done_returns(deps: FakeDeps, provider: FakeProvider, job_id: str) -> None:
    provider.status_of = observed(TaskState.SUCCEEDED, outputs=[data_uri()])
    tasks.poll(deps, ref(job_id))
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED


def submitted_ago(deps: FakeDeps, job_id: str, seconds: int) -> None:
    """The job's first task was submitted `seconds` ago."""
    key = (job_id, 0)
    deps.world.tasks[key] = deps.world.tasks[key].model_copy(
        update={"submitted_at": utcnow() - timedelta(seconds=seconds)}
    )


def test_a_poll_past_the_task_deadline_fails_the_task_without_asking_the_provider(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN a task submitted longer ago than the deadline (86,400 s)
    submitted_ago(deps, job_id, 86_401)
    # WHEN it is polled
    tasks.poll(deps, ref(job_id))
    # THEN it FAILED on the deadline, refunded, and the provider was not polled
    task = task_of(deps, job_id)
    assert task.status == TaskStatus.FAILED
    assert "deadline" in (task.error or "")
    assert provider.polled == []


def test_a_poll_just_inside_the_deadline_still_asks_the_provider(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    submitted_ago(deps, job_id, 86_300)
    with pytest.raises(tasks.TaskNotReady):
        tasks.poll(deps, ref(job_id))


@pytest.mark.parametrize(
    ("outcome", "ends"),
    [
        (CancelOutcome.CANCELED, True),
        (CancelOutcome.NOT_FOUND, True),
        (CancelOutcome.REQUESTED, False),
        (CancelOutcome.UNSUPPORTED, False),
    ],
)
def test_a_poll_of_a_cancelled_job_sends_the_provider_cancel_once(
    deps: FakeDeps, provider: FakeProvider, job_id: str, outcome: CancelOutcome, ends: bool
) -> None:
    # GIVEN a cancelled job whose task still runs
    jobs.cancel_job(deps, USER, job_id)
    provider.cancel_outcome = outcome
    # WHEN it is polled twice
    for _ in range(2):
        try:
            tasks.poll(deps, ref(job_id))
        except tasks.TaskNotReady:
            pass
    # THEN one provider cancel; the task ends CANCELLED when the provider stopped it
    assert provider.cancelled == [task_of(deps, job_id).provider_id]
    assert (task_of(deps, job_id).status == TaskStatus.CANCELLED) is ends


def test_a_provider_cancel_that_could_not_be_sent_is_sent_by_the_next_poll(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    jobs.cancel_job(deps, USER, job_id)
    real_cancel = provider.cancel

    def unavailable(provider_id: str) -> CancelOutcome:
        provider.cancel = real_cancel  # type: ignore[method-assign]
        raise ProviderUnavailable("503")

    provider.cancel = unavailable  # type: ignore[method-assign, assignment]
    with pytest.raises(tasks.TaskNotReady):
        tasks.poll(deps, ref(job_id))
    assert task_of(deps, job_id).provider_cancelled_at is None
    with pytest.raises(tasks.TaskNotReady):
        tasks.poll(deps, ref(job_id))
    assert provider.cancelled == [task_of(deps, job_id).provider_id]


def caught(job_id: str, error: str, cause: str = "") -> FailTaskInput:
    """FailTask's input: the task and the error the state machine caught for it."""
    return FailTaskInput(jobId=job_id, taskIndex=0, error=CaughtError(Error=error, Cause=cause))


def test_the_workflow_failing_a_task_ends_it_failed_once(deps: FakeDeps, job_id: str) -> None:
    task_end.fail(deps, caught(job_id, "States.Timeout", "heartbeat"))
    task_end.fail(deps, caught(job_id, "States.Timeout", "heartbeat"))
    task = task_of(deps, job_id)
    assert (task.status, task.error) == (TaskStatus.FAILED, "States.Timeout: heartbeat")
    assert deps.world.jobs[job_id].credits.refunded == 1


def test_the_workflow_failing_a_task_that_does_not_exist_is_ignored(deps: FakeDeps) -> None:
    task_end.fail(deps, caught("gone", "x"))
