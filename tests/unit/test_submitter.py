"""The SubmitQueue consumer: a retry is the message's visibility timeout, through the submit queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from genjobs import deps as deps_module
from genjobs.handlers import submitter
from genjobs.logic import tasks
from genjobs.providers.base import ProviderThrottled
from tests.unit.fakes import FakeDeps, FakeProvider
from tests.unit.scenario import granted, prepared


@pytest.fixture
def active(deps: FakeDeps) -> Iterator[FakeDeps]:
    deps_module.override(deps)
    yield deps
    deps_module.override(None)


def record(body: str) -> SQSRecord:
    return SQSRecord(
        {
            "messageId": "m",
            "receiptHandle": "rh-1",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
        }
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
    assert active.workflow.answers["tok"] == [{"mode": "POLL", "waitSeconds": 20}]


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
