"""Submitting a task: once, only while its job is not cancelled, with throttling and transient
errors retried later and a refusal ending the task refunded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from genjobs.logic import jobs, submission, task_answer, tasks
from genjobs.logic.preparation import prepare
from genjobs.models.domain import TaskStatus, utcnow
from genjobs.models.messages import POLL_PROVIDER
from genjobs.providers.base import ProviderRejected, ProviderThrottled, ProviderUnavailable, TaskState
from tests.unit.fakes import FakeDeps, FakeProvider, data_uri
from tests.unit.scenario import (
    ENDED,
    USER,
    answers,
    granted,
    invariant_holds,
    message,
    observed,
    prepared,
    ref,
    task_of,
)


@pytest.fixture
def job_id(deps: FakeDeps) -> str:
    granted(deps)
    return prepared(deps, 2)


def test_a_polled_task_is_submitted_and_first_checked_near_the_model_latency(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # WHEN a task of a polled model is submitted
    submission.submit(deps, message(job_id), 1)
    # THEN the provider has it once, the task is PROCESSING with its prediction, and its child waits
    # for the provider (PollProvider) the job's first-check time, 20 s, before checking it
    assert answers(deps, "tok") == [POLL_PROVIDER]
    assert prepare(deps, job_id).first_check_seconds == 20
    task = task_of(deps, job_id)
    assert (task.status, task.provider_id, task.submit_attempts) == (
        TaskStatus.PROCESSING,
        f"p-{job_id}:0",
        1,
    )
    assert deps.world.jobs[job_id].counts.processing == 1
    assert "task.submitted" in deps.world.kinds(job_id)


def test_the_submission_carries_a_stable_idempotency_key(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    submission.submit(deps, message(job_id, 1), 1)
    assert provider.submitted[0].idempotency_key == f"{job_id}:1"
    assert provider.submitted[0].input["seed"] == 1


def test_a_task_already_submitted_is_not_submitted_again(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN a submitted task
    submission.submit(deps, message(job_id), 1)
    # WHEN its message is delivered again
    submission.submit(deps, message(job_id, token="tok-2"), 2)
    # THEN the provider is not asked again and the wait is answered again
    assert len(provider.submitted) == 1
    assert answers(deps, "tok-2") == [POLL_PROVIDER]


def test_a_webhook_task_submitted_again_hands_its_webhook_the_new_token(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    granted(deps)
    job_id = prepared(deps, 1, model="sim-image-webhook")
    submission.submit(deps, message(job_id, token="tok-1"), 1)
    submission.submit(deps, message(job_id, token="tok-2"), 2)
    assert deps.workflow.answers == {}
    assert len(provider.submitted) == 1
    assert task_of(deps, job_id).task_token == "tok-2"


def test_a_webhook_task_asks_for_a_webhook_and_is_due_for_the_sweeper_after_its_grace(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a job of a webhook model (expected 20 s, grace 120 s)
    granted(deps)
    job_id = prepared(deps, 1, model="sim-image-webhook")
    before = utcnow()
    # WHEN its task is submitted
    submission.submit(deps, message(job_id), 1)
    # THEN nothing answers the token now (the webhook will), and the sweeper looks after 140 s
    assert deps.workflow.answers == {}
    assert provider.submitted[0].webhook_url == f"https://api.example/webhooks/simulator?job={job_id}&task=0"
    assert task_of(deps, job_id).task_token == "tok"
    due = deps.world.task_due[(job_id, 0)]
    assert before + timedelta(seconds=140) <= due <= utcnow() + timedelta(seconds=140)
    assert deps.tasks.webhooks_overdue(due - timedelta(seconds=1)) == []
    assert deps.tasks.webhooks_overdue(due) == [(job_id, 0)]


def test_a_polled_task_is_never_due_for_the_sweeper(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    submission.submit(deps, message(job_id), 1)
    assert deps.world.task_due == {}


def test_a_task_of_a_job_cancelled_before_its_submission_is_never_submitted(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN the job is cancelled before the submitter gets the task
    jobs.cancel_job(deps, USER, job_id)
    # WHEN the submitter gets it
    submission.submit(deps, message(job_id), 1)
    # THEN it ends CANCELLED, refunded, and the provider never hears of it
    assert answers(deps, "tok") == [ENDED]
    assert provider.submitted == []
    assert task_of(deps, job_id).status == TaskStatus.CANCELLED
    assert deps.credits.account(USER).available == 10 - 1


def test_a_rejected_task_fails_and_is_refunded(deps: FakeDeps, provider: FakeProvider, job_id: str) -> None:
    # GIVEN a provider that refuses the input
    provider.submit_error = ProviderRejected("bad prompt", status_code=422)
    # WHEN the task is submitted
    submission.submit(deps, message(job_id), 1)
    # THEN it FAILED with the reason, its credit back
    assert answers(deps, "tok") == [ENDED]
    task = task_of(deps, job_id)
    assert task.status == TaskStatus.FAILED
    assert "bad prompt" in (task.error or "")
    assert deps.credits.account(USER).reserved == 1
    assert deps.world.jobs[job_id].credits.refunded == 1
    assert invariant_holds(deps)


def test_a_throttled_submission_is_retried_after_the_providers_delay(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN a provider answering 429 with Retry-After 7
    provider.submit_error = ProviderThrottled(7.0)
    # WHEN the task is submitted
    with pytest.raises(tasks.RetryLater) as retry:
        submission.submit(deps, message(job_id), 1)
    # THEN it is retried in 7 s, still PENDING and reserved, and the timeline says throttled
    assert retry.value.delay_seconds == 7.0
    assert deps.workflow.answers == {}
    assert task_of(deps, job_id).status == TaskStatus.PENDING
    assert deps.credits.account(USER).reserved == 2
    assert "task.throttled" in deps.world.kinds(job_id)


@pytest.mark.parametrize(("receive_count", "delay"), [(1, 5.0), (2, 10.0), (3, 20.0), (5, 80.0), (20, 900.0)])
def test_a_transient_submit_error_backs_off_exponentially_up_to_15_minutes(
    deps: FakeDeps, provider: FakeProvider, job_id: str, receive_count: int, delay: float
) -> None:
    provider.submit_error = ProviderUnavailable("502")
    with pytest.raises(tasks.RetryLater) as retry:
        submission.submit(deps, message(job_id), receive_count)
    assert retry.value.delay_seconds == delay
    assert task_of(deps, job_id).status == TaskStatus.PENDING


def test_each_attempt_is_counted(deps: FakeDeps, provider: FakeProvider, job_id: str) -> None:
    provider.submit_error = ProviderUnavailable("502")
    for attempt in (1, 2):
        with pytest.raises(tasks.RetryLater):
            submission.submit(deps, message(job_id), attempt)
    assert task_of(deps, job_id).submit_attempts == 2


def test_a_message_whose_token_no_longer_waits_is_dropped_unsubmitted(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    deps.workflow.gone.add("old")
    submission.submit(deps, message(job_id, token="old"), 3)
    assert deps.workflow.answers == {}
    assert provider.submitted == []
    assert task_of(deps, job_id).status == TaskStatus.PENDING


@pytest.mark.parametrize("ended", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_a_task_that_already_ended_is_answered_done_without_submitting(
    deps: FakeDeps, provider: FakeProvider, job_id: str, ended: TaskStatus
) -> None:
    key = (job_id, 0)
    deps.world.tasks[key] = deps.world.tasks[key].model_copy(update={"status": ended})
    submission.submit(deps, message(job_id), 1)
    assert answers(deps, "tok") == [ENDED]
    assert provider.submitted == []


def test_a_task_that_does_not_exist_is_gone(deps: FakeDeps, provider: FakeProvider, job_id: str) -> None:
    submission.submit(deps, message(job_id, 7, "tok-7"), 1)
    submission.submit(deps, message("no-such-job"), 1)
    assert answers(deps, "tok-7") == answers(deps, "tok") == ["TaskGone"]
    assert provider.submitted == []


def test_a_submission_answered_finished_at_once_completes_the_task(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN a provider that answers the submit with the finished result (a synchronous model)
    provider.submit_status = observed(TaskState.SUCCEEDED, outputs=[data_uri("done")])
    # WHEN the task is submitted
    submission.submit(deps, message(job_id), 1)
    # THEN it is COMPLETED and charged at once, and its child ends without a poll
    assert answers(deps, "tok") == [ENDED]
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED
    assert deps.credits.account(USER).charged == 1


def test_a_polled_task_that_failed_at_submission_ends_without_a_poll(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN a provider that answers the submit with a failure
    provider.submit_status = observed(TaskState.FAILED, error="NSFW")
    # WHEN the task is submitted
    submission.submit(deps, message(job_id), 1)
    # THEN it FAILED and refunded, and its child ends: nothing is left to check
    assert answers(deps, "tok") == [ENDED]
    assert (task_of(deps, job_id).status, task_of(deps, job_id).error) == (TaskStatus.FAILED, "NSFW")
    assert deps.world.jobs[job_id].credits.refunded == 1
    assert provider.polled == []


def test_a_webhook_task_that_finished_at_submission_ends_its_child_at_once(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a webhook model whose provider answers the submit with the finished result
    granted(deps)
    job_id = prepared(deps, 1, model="sim-image-webhook")
    provider.submit_status = observed(TaskState.SUCCEEDED, outputs=[data_uri("done")])
    # WHEN its task is submitted
    submission.submit(deps, message(job_id), 1)
    # THEN the submitter answers the token itself (no webhook will come) and no sweep is due
    assert answers(deps, "tok") == [ENDED]
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED
    assert deps.world.task_due == {}


def test_giving_up_a_poison_submission_fails_the_task_and_releases_its_credit(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    task_answer.give_up_submission(deps, ref(job_id), "tok", "dead-lettered")
    task = task_of(deps, job_id)
    assert (task.status, task.error) == (TaskStatus.FAILED, "dead-lettered")
    assert deps.credits.account(USER).reserved == 1
    assert answers(deps, "tok") == [ENDED]


def test_a_model_removed_from_the_catalog_rejects_its_tasks(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"model": "retired"})
    with pytest.raises(ProviderRejected):
        submission.submit(deps, message(job_id), 1)


def test_giving_up_a_submission_of_a_task_that_ended_meanwhile_keeps_its_end_and_ends_its_child(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN a task that completed (its message was dead-lettered by a late failure of the submitter)
    provider.submit_status = observed(TaskState.SUCCEEDED, outputs=[data_uri("done")])
    submission.submit(deps, message(job_id, token="first"), 1)
    # WHEN the dead-letter consumer gives its submission up
    task_answer.give_up_submission(deps, ref(job_id), "tok", "dead-lettered")
    # THEN it stays COMPLETED and charged, and the waiting child still ends
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED
    assert deps.credits.account(USER).charged == 1
    assert answers(deps, "tok") == [ENDED]


def test_giving_up_a_submission_of_a_task_that_does_not_exist_ends_its_child(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    task_answer.give_up_submission(deps, ref("no-such-job"), "tok", "dead-lettered")
    assert answers(deps, "tok") == [ENDED]
