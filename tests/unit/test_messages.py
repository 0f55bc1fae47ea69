"""The messages between steps: each kind parses as itself, a malformed one is refused naming the
field, and what one side writes the other reads back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from genjobs.handlers import submitter
from genjobs.logic.notify import push_message
from genjobs.models.domain import Job, JobCredits, JobStatus, TaskCounts
from genjobs.models.messages import (
    CancelJob,
    FailTaskInput,
    JobEvent,
    PrepareJobOutput,
    SubmitQueueMessage,
    SubmitTask,
    TaskEnded,
    submit_group,
)
from genjobs.models.records import JobEventRecord, SubmitQueueRecord

JOB_ID = "0b7f5a52-2f3e-4c55-9a43-5b1f4f0a1e01"
EVENTS = Path(__file__).resolve().parents[2] / "events"
SUBMIT_QUEUE = TypeAdapter(SubmitQueueMessage)


def record(body: str, message_id: str = "m-1") -> dict[str, Any]:
    """An SQS record of SubmitQueue carrying `body` (the console event's record, another body)."""
    event = json.loads((EVENTS / "submitter-function" / "submit.json").read_text())
    return event["Records"][0] | {"body": body, "messageId": message_id}


def field_errors(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


# ----------------------------------------------------------------------------- SubmitQueue
def test_a_message_with_a_task_token_is_a_submission() -> None:
    # GIVEN the state machine's message (no tag: as it is on the wire today)
    body = {"jobId": JOB_ID, "taskIndex": 3, "taskToken": "token-1"}
    # WHEN the submitter reads it
    message = SUBMIT_QUEUE.validate_python(body)
    # THEN it is the task to submit, with the token to answer
    assert message == SubmitTask(jobId=JOB_ID, taskIndex=3, taskToken="token-1")


def test_a_message_naming_a_cancelled_job_is_a_cancel() -> None:
    assert SUBMIT_QUEUE.validate_json(json.dumps({"cancelJob": JOB_ID})) == CancelJob(cancelJob=JOB_ID)


def test_a_submission_without_its_token_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        SUBMIT_QUEUE.validate_python({"jobId": JOB_ID, "taskIndex": 0})
    assert field_errors(refused.value) == {"submit.taskToken"}


def test_a_record_whose_body_is_not_json_is_refused_naming_the_body() -> None:
    with pytest.raises(ValidationError) as refused:
        SubmitQueueRecord.model_validate(record("{not json"))
    assert field_errors(refused.value) == {"body"}


@pytest.mark.parametrize(
    "message",
    [SubmitTask(jobId=JOB_ID, taskIndex=7, taskToken="t"), CancelJob(cancelJob=JOB_ID)],
    ids=["submit", "cancel"],
)
def test_each_submit_queue_message_reads_back_as_written(message: BaseModel) -> None:
    wire = message.model_dump_json(by_alias=True)
    assert SubmitQueueRecord.model_validate(record(wire)).body == message


class _Context(SimpleNamespace):
    function_name = "SubmitterFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:submitter"
    aws_request_id = "request-1"


def test_a_malformed_record_fails_alone_and_the_rest_of_the_batch_is_handled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a batch of a malformed message and a cancel
    cancelled: list[str] = []
    monkeypatch.setattr(submitter, "deps", lambda: None)
    monkeypatch.setattr(
        submitter.sweeper, "cancel_in_flight", lambda deps, job_id, by: cancelled.append(job_id) or 0
    )
    event = {"Records": [record('{"jobId": 1}', "bad"), record(json.dumps({"cancelJob": JOB_ID}), "good")]}
    # WHEN the submitter handles it
    response = submitter.handler(event, _Context())
    # THEN only the malformed one is reported back to the queue, and the cancel was sent
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert cancelled == [JOB_ID]


# ----------------------------------------------------------------------------- the states
def test_prepare_jobs_output_is_what_the_state_machine_reads() -> None:
    output = PrepareJobOutput(
        jobId=JOB_ID,
        manifestKey=f"manifests/{JOB_ID}.json",
        concurrency=4,
        taskCount=10,
        cancelRequested=False,
        moreRounds=False,
        firstCheckSeconds=20,
        heartbeatSeconds=3600,
        deadlineSeconds=86400,
        messageGroup="user-1",
    )
    wire = output.to_wire()
    assert wire == {
        "jobId": JOB_ID,
        "manifestKey": f"manifests/{JOB_ID}.json",
        "concurrency": 4,
        "taskCount": 10,
        "cancelRequested": False,
        "moreRounds": False,
        "firstCheckSeconds": 20,
        "heartbeatSeconds": 3600,
        "deadlineSeconds": 86400,
        "messageGroup": "user-1",
    }
    assert PrepareJobOutput.model_validate(wire) == output


def test_a_users_tasks_share_a_message_group_that_sqs_accepts_whatever_the_user_id() -> None:
    # A plain id is its own group (readable in the queue's metrics); any other is hashed, since SQS
    # refuses a MessageGroupId beyond 128 printable ASCII characters (a refusal fails the task).
    assert submit_group("auth0|5f1c2a54") == "auth0|5f1c2a54"
    for user in ("ana maría", "x" * 129, "用户"):
        group = submit_group(user)
        assert len(group) == 64
        assert group.isalnum()
        assert group == submit_group(user)
    assert submit_group("ana maría") != submit_group("ana maria")


def test_the_task_token_answer_keeps_its_wire_names() -> None:
    answer = TaskEnded()
    assert json.loads(answer.model_dump_json()) == {"ended": True}
    assert TaskEnded.model_validate_json(answer.model_dump_json()) == answer


@pytest.mark.parametrize(
    ("caught", "described"),
    [
        ({"Error": "States.Timeout", "Cause": "no result"}, "States.Timeout: no result"),
        ({"Error": "States.HeartbeatTimeout"}, "States.HeartbeatTimeout"),
    ],
)
def test_a_caught_error_is_recorded_as_error_and_cause(caught: dict[str, str], described: str) -> None:
    failed = FailTaskInput.model_validate({"jobId": JOB_ID, "taskIndex": 0, "error": caught})
    assert failed.error.describe() == described


def test_fail_task_without_the_caught_error_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as refused:
        FailTaskInput.model_validate({"jobId": JOB_ID, "taskIndex": 0})
    assert field_errors(refused.value) == {"error"}


# ----------------------------------------------------------------------------- job events
def _finished_job() -> Job:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Job.model_construct(
        job_id=JOB_ID,
        user_id="alice",
        status=JobStatus.CANCELLED,
        collection_id="album-1",
        counts=TaskCounts(completed=2, failed=1, cancelled=3),
        credits=JobCredits(unitPrice=1, reserved=6, charged=2, refunded=4),
        finished_at=now,
    )


def test_the_job_event_settle_publishes_is_the_one_the_notifier_reads() -> None:
    # GIVEN the event of a finished job, as published
    published = JobEvent.of(_finished_job())
    wire = published.model_dump_json(by_alias=True)
    # WHEN the notifier's queue hands it over (raw delivery: the body is the event)
    read = JobEventRecord.model_validate(record(wire)).body
    # THEN it reads the same event, with the fields and names it always had (and a pipeline's SKIPPED count)
    assert read == published
    assert json.loads(wire) == {
        "type": "job.cancelled",
        "jobId": JOB_ID,
        "userId": "alice",
        "status": "CANCELLED",
        "collectionId": "album-1",
        "counts": {"pending": 0, "processing": 0, "completed": 2, "failed": 1, "cancelled": 3, "skipped": 0},
        "credits": {"unitPrice": 1, "reserved": 6, "charged": 2, "refunded": 4},
        "finishedAt": "2026-01-02T03:04:05+00:00",
    }


def test_a_job_event_without_its_user_is_refused_naming_the_field() -> None:
    wire = JobEvent.of(_finished_job()).to_wire()
    del wire["userId"]
    with pytest.raises(ValidationError) as refused:
        JobEventRecord.model_validate(record(json.dumps(wire)))
    assert field_errors(refused.value) == {"body.userId"}


def test_the_push_tells_the_jobs_outcome_from_the_event() -> None:
    message = push_message(JobEvent.of(_finished_job()))
    assert message["default"] == "Your generation was cancelled: 2 done, 1 failed, 3 cancelled"
    assert json.loads(message["GCM"])["data"]["link"] == f"genjobs://jobs/{JOB_ID}"
