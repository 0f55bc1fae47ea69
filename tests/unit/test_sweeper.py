"""The sweeper's decisions: start jobs the API could not start, send the provider cancels of
cancelled jobs, and look at overdue webhook tasks with a growing interval."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from genjobs.logic import jobs, submission, sweeper
from genjobs.models.domain import TaskStatus, utcnow
from genjobs.providers.base import ProviderUnavailable, TaskState
from tests.unit.fakes import FakeDeps, FakeProvider, data_uri
from tests.unit.scenario import (
    ENDED,
    USER,
    cancelled_while_running,
    created,
    granted,
    message,
    observed,
    prepared,
    submitted,
    task_of,
)


def age(deps: FakeDeps, job_id: str, seconds: int) -> None:
    """The job was created `seconds` ago."""
    kind, at = deps.world.job_marks[job_id]
    deps.world.job_marks[job_id] = (kind, at - timedelta(seconds=seconds))


def test_a_job_never_started_is_started_after_one_interval(deps: FakeDeps) -> None:
    # GIVEN a job whose start failed two minutes ago
    granted(deps)
    deps.workflow.start_fails = True
    job_id = created(deps, 1)
    deps.workflow.start_fails = False
    age(deps, job_id, 120)
    # WHEN the sweeper runs
    result = sweeper.sweep(deps)
    # THEN it starts it, and says so on the job's timeline
    assert result["jobsStarted"] == 1
    assert deps.workflow.started == [job_id]
    assert "job.started_by_sweeper" in deps.world.kinds(job_id)


def test_a_job_created_just_now_is_left_to_the_api_start(deps: FakeDeps) -> None:
    granted(deps)
    created(deps, 1)
    assert sweeper.sweep(deps)["jobsStarted"] == 0


def test_a_job_already_started_by_its_workflow_is_not_started_again(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 1)
    age(deps, job_id, 120)
    assert sweeper.sweep(deps)["jobsStarted"] == 0  # the execution exists: the start is a no-op
    assert deps.workflow.started == [job_id]


def test_a_prepared_job_is_no_longer_looked_at(deps: FakeDeps) -> None:
    granted(deps)
    job_id = prepared(deps, 1)
    assert job_id not in deps.world.job_marks


def test_the_sweeper_sends_the_provider_cancel_of_each_running_task_of_a_cancelled_job(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a cancelled job with two tasks running at the provider
    job_id = cancelled_while_running(deps, 2)
    # WHEN the sweeper runs twice
    first = sweeper.sweep(deps)
    second = sweeper.sweep(deps)
    # THEN each task got one cancel, and the job is no longer visited
    assert first["cancelsSent"] == 2
    assert second["cancelsSent"] == 0
    assert sorted(provider.cancelled) == sorted(task_of(deps, job_id, i).provider_id for i in range(2))
    assert deps.jobs.cancelling() == []


def test_a_cancelled_job_with_tasks_not_submitted_yet_stays_visited(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a cancelled job with one task running and one never submitted
    granted(deps)
    job_id = prepared(deps, 2)
    submission.submit(deps, message(job_id, 0, "t0"), 1)
    jobs.cancel_job(deps, USER, job_id)
    # WHEN the sweeper runs
    sweeper.sweep(deps)
    # THEN it keeps visiting it: a submission racing the cancel may still start the other task
    assert deps.jobs.cancelling() == [job_id]


def test_the_submitters_cancel_message_sends_the_cancels_at_once(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    job_id = cancelled_while_running(deps, 3)
    assert sweeper.cancel_in_flight(deps, job_id, by="cancel request") == 3
    assert "cancel request" in {e.detail.get("by") for e in deps.world.events if e.kind == "task.cancel_sent"}


def webhook_job(deps: FakeDeps, n: int = 1) -> str:
    granted(deps)
    return submitted(deps, n, model="sim-image-webhook")


def overdue(deps: FakeDeps, job_id: str, index: int = 0) -> None:
    deps.world.task_due[(job_id, index)] = utcnow() - timedelta(seconds=1)


def test_an_overdue_webhook_task_that_finished_is_completed_and_its_token_answered(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a webhook task whose webhook never came, finished at the provider
    job_id = webhook_job(deps)
    overdue(deps, job_id)
    provider.status_of = observed(TaskState.SUCCEEDED, outputs=[data_uri()])
    # WHEN the sweeper runs
    result = sweeper.sweep(deps)
    # THEN the task is COMPLETED, its waiting token answered, and it is no longer due
    assert result["tasksRescued"] == 1
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED
    assert deps.workflow.answers["tok-0"] == [ENDED]
    assert deps.world.task_due == {}


def test_an_overdue_webhook_task_still_running_is_looked_at_later_and_its_token_kept_alive(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    job_id = webhook_job(deps)
    overdue(deps, job_id)
    before, due = task_of(deps, job_id), dict(deps.world.task_due)
    assert sweeper.sweep(deps)["tasksRescued"] == 0
    assert provider.polled  # it was looked at
    # a look that found it still running writes nothing: not the task, its mark or the timeline
    # (its next look follows from how long it has been overdue)
    assert task_of(deps, job_id) == before
    assert deps.world.task_due == due
    assert "tok-0" in deps.workflow.heartbeats
    assert "tok-0" not in deps.workflow.answers
    assert "task.swept" not in deps.world.kinds(job_id)


def submitted_ago(deps: FakeDeps, job_id: str, seconds: int) -> None:
    key = (job_id, 0)
    task = deps.world.tasks[key]
    assert task.submitted_at is not None
    deps.world.tasks[key] = task.model_copy(
        update={"submitted_at": task.submitted_at - timedelta(seconds=seconds)}
    )


@pytest.mark.parametrize(("age", "beats"), [(200, 0), (2_600, 1)])
def test_a_sweep_sends_a_heartbeat_only_when_the_next_one_could_come_too_late(
    deps: FakeDeps, provider: FakeProvider, age: int, beats: int
) -> None:
    # GIVEN an overdue webhook task still running, submitted `age` seconds ago (the submission's
    # heartbeat started its wait's hour)
    job_id = webhook_job(deps)
    overdue(deps, job_id)
    submitted_ago(deps, job_id, age)
    sent = len(deps.workflow.heartbeats)
    # WHEN the sweeper finds it still running
    sweeper.sweep(deps)
    # THEN its wait gets a heartbeat only when the next sweep could come after the period
    # (heartbeat 3600 s, less the longest gap 900 s and one pass 60 s: 2640 s)
    assert len(deps.workflow.heartbeats) - sent == beats


def test_a_webhook_task_not_yet_due_is_left_alone(deps: FakeDeps, provider: FakeProvider) -> None:
    job_id = webhook_job(deps)
    sweeper.sweep(deps)
    assert provider.polled == []
    assert task_of(deps, job_id).sweeps == 0


def test_a_sweep_whose_status_read_fails_counts_it_like_a_failed_poll(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    job_id = webhook_job(deps)
    overdue(deps, job_id)
    provider.status_of = ProviderUnavailable("503")
    sweeper.sweep(deps)
    assert task_of(deps, job_id).poll_errors == 1


def test_one_failing_task_does_not_stop_the_sweep(deps: FakeDeps, provider: FakeProvider) -> None:
    # GIVEN two overdue tasks, the first of which cannot be read at all
    job_id = webhook_job(deps, 2)
    overdue(deps, job_id, 0)
    overdue(deps, job_id, 1)
    provider.status_of = observed(TaskState.SUCCEEDED, outputs=[data_uri()])
    real_get = deps.tasks.get

    def broken_first(job: str, index: int):  # type: ignore[no-untyped-def]
        if index == 0:
            raise RuntimeError("boom")
        return real_get(job, index)

    deps.tasks.get = broken_first  # type: ignore[method-assign]
    # WHEN the sweeper runs
    result = sweeper.sweep(deps)
    # THEN the other task was still rescued
    assert result["tasksRescued"] == 1


def test_an_overdue_task_is_looked_at_with_a_doubling_interval_up_to_the_maximum(deps: FakeDeps) -> None:
    # GIVEN the sweeper's interval (60 s) and its back-off maximum (900 s)
    offsets = list(itertools.islice(sweeper.look_offsets(deps), 8))
    # THEN an overdue task is looked at once due, then after gaps that double, capped
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert offsets[0] == 0
    assert gaps == [60, 120, 240, 480, 900, 900, 900]


@pytest.mark.parametrize(
    ("overdue_for", "looks"),
    [(0, True), (30, True), (61, True), (150, False), (190, True), (400, False), (850, False), (910, True)],
)
def test_a_pass_looks_at_a_task_only_when_one_of_its_looks_fell_in_the_last_interval(
    deps: FakeDeps, overdue_for: int, looks: bool
) -> None:
    # (looks at 0, 60, 180, 420, 900, 1800... s overdue; passes every 60 s)
    assert sweeper.looks_now(deps, utcnow() - timedelta(seconds=overdue_for)) is looks


def test_passes_meant_for_each_minute_take_every_look_once_however_late_each_starts(deps: FakeDeps) -> None:
    # GIVEN a task overdue since `due`, and 60 passes meant for each minute after it (the schedule's
    # time for each), all starting now: from 30 s to an hour late
    now = utcnow()
    due = now - timedelta(seconds=3600)
    taken: list[float] = []
    for minute in range(60):
        meant_for = due + timedelta(seconds=60 * minute + 30)
        # WHEN each pass decides by the time it was meant for
        if sweeper.looks_now(deps, due, meant_for):
            taken.append(60 * minute + 30)
    # THEN each look fell in exactly one pass: the first after it (looks at 0, 60, 180, 420, 900,
    # 1800, 2700 s overdue)
    looks = list(itertools.takewhile(lambda at: at < 3600, sweeper.look_offsets(deps)))
    assert taken == [at + 30 for at in looks]


def test_a_pass_that_starts_late_looks_at_the_tasks_its_minute_was_due_for(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a webhook task 120 s overdue: its second look (60 s overdue) fell in the minute before
    # a pass meant for 50 s ago, not in the minute before now
    job_id = webhook_job(deps)
    deps.world.task_due[(job_id, 0)] = utcnow() - timedelta(seconds=120)
    # WHEN that pass starts now, 50 s late
    sweeper.sweep(deps, scheduled_for=utcnow() - timedelta(seconds=50))
    # THEN it looks at the task (a pass reading the clock would skip that look)
    assert provider.polled


@pytest.mark.parametrize(
    ("meant_for", "stands_for"),
    [(-50, "meant"), (None, "now"), (-901, "now"), (30, "now")],
    ids=["late", "no time", "older than the longest gap (a replay)", "ahead of our clock"],
)
def test_a_pass_stands_for_its_scheduled_time_unless_it_cannot_be_a_late_start(
    deps: FakeDeps, meant_for: int | None, stands_for: str
) -> None:
    scheduled = None if meant_for is None else utcnow() + timedelta(seconds=meant_for)
    at = sweeper.pass_time(deps, scheduled)
    if stands_for == "meant":
        assert at == scheduled
    else:
        assert abs((at - utcnow()).total_seconds()) < 5


def test_a_task_not_due_for_a_look_in_this_pass_is_not_read(deps: FakeDeps, provider: FakeProvider) -> None:
    # GIVEN an overdue webhook task between two of its looks (150 s overdue: looked at 0 and 60 s)
    job_id = webhook_job(deps)
    deps.world.task_due[(job_id, 0)] = utcnow() - timedelta(seconds=150)
    # WHEN the sweeper passes
    sweeper.sweep(deps)
    # THEN it did not poll the provider for it
    assert provider.polled == []
