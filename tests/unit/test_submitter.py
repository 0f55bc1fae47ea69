"""The SubmitQueue consumer: a retry is the message's visibility timeout, through the submit queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from genjobs import deps as deps_module
from genjobs.handlers import submit_dead_letter, submitter
from genjobs.logic import tasks
from genjobs.models.domain import TaskStatus
from genjobs.models.messages import POLL_PROVIDER
from genjobs.models.records import SubmitQueueRecord
from genjobs.providers.base import ProviderThrottled
from tests.unit.fakes import FakeDeps, FakeProvider
from tests.unit.scenario import ENDED, answers, granted, prepared, task_of

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def active(deps: FakeDeps) -> Iterator[FakeDeps]:
    deps_module.override(deps)
    yield deps
    deps_module.override(None)


def record(body: str) -> SubmitQueueRecord:
    """A SubmitQueue record as the consumer gets it (the console event's record, another body)."""
    event = json.loads((EVENTS / "submitter-function" / "submit.json").read_text())
    return SubmitQueueRecord.model_validate(
        event["Records"][0] | {"messageId": "m", "receiptHandle": "rh-1", "body": body}
    )


def submission(job_id: str, index: int = 0) -> str:
    return f'{{"jobId": "{job_id}", "taskIndex": {index}, "taskToken": "tok"}}'


def test_a_throttled_submission_comes_back_after_the_providers_delay(
    active: FakeDeps, provider: FakeProvider
) -> None:
    granted(active)
    job_id = prepared(active, 1)
    provider.submit_error = ProviderThrottled(100.0)
    with pytest.raises(tasks.RetryLater):
        submitter.submit_record(record(submission(job_id)))
    ((handle, delay),) = active.submit_queue.retries
    assert handle == "rh-1"
    assert 100 <= delay <= 120


def test_a_submission_answers_its_token(active: FakeDeps, provider: FakeProvider) -> None:
    granted(active)
    job_id = prepared(active, 1)
    submitter.submit_record(record(submission(job_id)))
    assert answers(active, "tok") == [POLL_PROVIDER]


def test_a_submission_of_a_task_that_does_not_exist_fails_its_token(
    active: FakeDeps, provider: FakeProvider
) -> None:
    granted(active)
    job_id = prepared(active, 1)
    submitter.submit_record(record(submission(job_id, 5)))
    assert active.workflow.answers["tok"][0]["error"] == "TaskGone"


def test_a_cancel_message_sends_the_provider_cancels(active: FakeDeps, provider: FakeProvider) -> None:
    from genjobs.logic import jobs

    granted(active)
    job_id = prepared(active, 1)
    submitter.submit_record(record(submission(job_id)))
    jobs.cancel_job(active, "alice", job_id)
    submitter.submit_record(record(f'{{"cancelJob": "{job_id}"}}'))
    assert len(provider.cancelled) == 1


def test_a_dead_lettered_submission_fails_its_task_and_ends_its_child(
    active: FakeDeps, provider: FakeProvider
) -> None:
    # GIVEN a task whose submission kept failing until its message reached the DLQ
    granted(active)
    job_id = prepared(active, 1)
    # WHEN the dead-letter consumer gets the message
    submit_dead_letter.dead_letter_record(record(submission(job_id)))
    # THEN the task FAILED and refunded, and the child waiting on the message's token ends
    assert task_of(active, job_id).status == TaskStatus.FAILED
    assert active.credits.account("alice").reserved == 0
    assert answers(active, "tok") == [ENDED]
