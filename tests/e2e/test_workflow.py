"""The generation workflow on the embedded stack (real template, ASL and handlers, simulated provider):
what a user sees at the end of each path a task can take: statuses, outputs in S3, the ledger,
pushes and the timeline. Cancellation is in test_workflow_cancel.py."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import requests

from genjobs.providers.webhooks import signed_headers
from genjobs_local.simulator import DEFAULT_WEBHOOK_SECRET
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, Phone, job_keys, sim_job, sim_stats, wait_for

pytestmark = [pytest.mark.e2e]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def kinds(app: Client, job_id: str) -> Counter[str]:
    return Counter(e["kind"] for e in app.events(job_id))


def ledger(app: Client) -> tuple[int, int, int, int]:
    c = app.credits()
    return c["granted"], c["available"], c["reserved"], c["charged"]


def one_push(stack: LocalStack, phone: Phone) -> dict[str, Any]:
    """Waits for the job's push, lets the stack go quiet, and checks there is exactly one."""
    wait_for(phone.pushes, what="a push")
    stack.wait_idle()
    pushes = phone.pushes()
    assert len(pushes) == 1, pushes
    message = json.loads(pushes[0])
    return dict(json.loads(message["GCM"])) if "GCM" in message else message


def assert_outputs_downloadable(job: dict[str, Any]) -> None:
    for task in job["tasks"]:
        if task["status"] != "COMPLETED":
            assert task["outputs"] == []
            continue
        assert len(task["outputs"]) == 1
        output = task["outputs"][0]
        body = requests.get(output["url"], timeout=10).content  # presigned URL of our bucket
        assert body.startswith(PNG_MAGIC)
        assert output["contentType"] == "image/png"
        assert output["size"] == len(body)


# ------------------------------------------------------------------------------------------ success
def test_polling_job_completes_with_outputs_in_s3_charged_and_one_push(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a user with 50 credits and a phone registered for pushes
    phone = Phone(app)
    # WHEN a 3-task job of a polling model runs
    created = app.create(sim_job(3))
    job = app.wait(created["jobId"])
    # THEN every task is COMPLETED with its output copied into our bucket
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 3
    assert_outputs_downloadable(job)
    # AND exactly the 3 images are charged, nothing stays reserved
    assert ledger(app) == (50, 47, 0, 3)
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (3, 0)
    # AND the phone gets one push that links to the job with its counts
    push = one_push(stack, phone)
    assert push["data"] == {
        "jobId": job["jobId"],
        "status": "COMPLETED",
        "link": f"genjobs://jobs/{job['jobId']}",
    }
    assert push["notification"]["body"].startswith("3 done")
    # AND each prediction was created once and the timeline tells the whole story
    stats = sim_stats(stack)
    assert [stats["creates_per_key"][k] for k in job_keys(job["jobId"], 3)] == [1, 1, 1]
    timeline = kinds(app, job["jobId"])
    assert timeline["task.submitted"] == timeline["task.outputs_stored"] == timeline["task.completed"] == 3
    for kind in ("job.created", "job.started", "job.settled", "job.event_published", "job.push_sent"):
        assert timeline[kind] == 1, kind
    assert timeline["task.webhook_received"] == 0


def test_webhook_job_completes_by_webhook_without_the_sweeper(stack: LocalStack, app: Client) -> None:
    # GIVEN a phone and a model whose provider answers by webhook
    phone = Phone(app)
    # WHEN a 2-task job of that model runs (the simulator signs its deliveries)
    created = app.create(sim_job(2, model="sim-image-webhook"))
    job = app.wait(created["jobId"], timeout=30)
    # THEN both tasks completed, were charged and have their outputs
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 2
    assert_outputs_downloadable(job)
    assert ledger(app) == (50, 48, 0, 2)
    # AND the webhooks, not the sweeper, ended them
    timeline = kinds(app, job["jobId"])
    assert timeline["task.webhook_received"] >= 2
    assert timeline["task.swept"] == 0
    assert timeline["task.completed"] == 2
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"


def test_lost_webhook_is_rescued_by_the_sweeper(stack: LocalStack, app: Client) -> None:
    # GIVEN a webhook model whose provider never delivers the webhook
    phone = Phone(app)
    created = app.create(sim_job(1, model="sim-image-webhook", webhook={"drop": True}))
    # WHEN the webhook is overdue (expected latency + grace) and the scheduled sweeper passes
    job = app.wait(created["jobId"], timeout=30)
    # THEN the sweeper polled the provider, kept the output and ended the task and the job
    assert job["status"] == "COMPLETED"
    assert_outputs_downloadable(job)
    assert ledger(app) == (50, 49, 0, 1)
    timeline = kinds(app, job["jobId"])
    assert timeline["task.swept"] >= 1
    assert timeline["task.webhook_received"] == 0
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"


# ------------------------------------------------------------------------------------------ failures
def test_provider_failure_fails_only_that_task_and_refunds_it(stack: LocalStack, app: Client) -> None:
    # GIVEN a job whose second task the provider fails
    phone = Phone(app)
    body = sim_job(2)
    body["tasks"][1]["sim"] = {"latency": 5, "fail": "NSFW content detected"}
    # WHEN it runs
    job = app.wait(app.create(body)["jobId"])
    # THEN the job completed with one image, the failed task shows the provider's reason
    assert job["status"] == "COMPLETED"
    assert (job["counts"]["COMPLETED"], job["counts"]["FAILED"]) == (1, 1)
    failed = job["tasks"][1]
    assert failed["status"] == "FAILED"
    assert "NSFW content detected" in failed["error"]
    assert_outputs_downloadable(job)
    # AND only the finished image is charged, the failed one refunded
    assert ledger(app) == (50, 49, 0, 1)
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (1, 1)
    assert kinds(app, job["jobId"])["task.failed"] == 1
    assert one_push(stack, phone)["notification"]["body"].startswith("1 done, 1 failed")


def test_every_task_failing_fails_the_job_and_refunds_everything(stack: LocalStack, app: Client) -> None:
    # GIVEN a phone and a job the provider fails entirely
    phone = Phone(app)
    # WHEN it runs
    job = app.wait(app.create(sim_job(2, fail="model crashed"))["jobId"])
    # THEN the job is FAILED, nothing is charged, and the push says so
    assert job["status"] == "FAILED"
    assert job["counts"]["FAILED"] == 2
    assert ledger(app) == (50, 50, 0, 0)
    assert one_push(stack, phone)["data"]["status"] == "FAILED"


def test_429_burst_is_absorbed_without_failing_a_task_or_duplicating_a_prediction(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a provider that throttles every task's first 3 submissions (429 + Retry-After) and then
    # drops the answer of the create it did accept (the ambiguous case idempotency keys exist for)
    created = app.create(sim_job(6, throttle=3, retryAfter=10, dropResponses=1) | {"concurrency": 6})
    # WHEN the job runs
    job = app.wait(created["jobId"])
    # THEN no task failed: all 6 completed and were charged
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 6
    assert ledger(app) == (50, 44, 0, 6)
    # AND every task was submitted 5 times but exactly one prediction exists per task
    stats = sim_stats(stack)
    keys = job_keys(job["jobId"], 6)
    assert [stats["submit_attempts_per_key"][k] for k in keys] == [5] * 6
    assert [stats["creates_per_key"][k] for k in keys] == [1] * 6
    # AND the timeline shows the throttling and the retry
    timeline = kinds(app, job["jobId"])
    assert timeline["task.throttled"] == 18
    assert timeline["task.submit_retry"] == 6
    assert timeline["task.failed"] == 0


def test_ten_consecutive_poll_errors_fail_the_task(stack: LocalStack, app: Client) -> None:
    # GIVEN a provider whose status endpoint answers 500 ten times in a row
    phone = Phone(app)
    # WHEN the task is polled
    job = app.wait(app.create(sim_job(1, statusErrors=10))["jobId"])
    # THEN it fails after the tenth error, the credit is refunded and the user is told
    assert job["status"] == "FAILED"
    assert "10 consecutive poll errors" in job["tasks"][0]["error"]
    assert ledger(app) == (50, 50, 0, 0)
    assert kinds(app, job["jobId"])["task.poll_error"] == 9
    assert one_push(stack, phone)["data"]["status"] == "FAILED"


def test_nine_poll_errors_then_an_answer_complete_the_task(stack: LocalStack, app: Client) -> None:
    # GIVEN a provider whose status endpoint fails nine times, then recovers
    # WHEN the task is polled
    job = app.wait(app.create(sim_job(1, statusErrors=9))["jobId"])
    # THEN the errors were absorbed and the task completed
    assert job["status"] == "COMPLETED"
    assert_outputs_downloadable(job)
    assert ledger(app) == (50, 49, 0, 1)
    assert kinds(app, job["jobId"])["task.poll_error"] == 9


def test_unknown_provider_status_fails_the_task_instead_of_polling_forever(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a provider that reports a status the adapter's table does not know
    # WHEN the task is polled
    job = app.wait(app.create(sim_job(1, rawStatus="exploded"))["jobId"], timeout=15)
    # THEN the task fails at once, naming the status, and the credit is refunded
    assert job["status"] == "FAILED"
    assert "exploded" in job["tasks"][0]["error"]
    assert ledger(app) == (50, 50, 0, 0)
    assert kinds(app, job["jobId"])["task.poll_error"] == 0


def test_poison_submission_goes_to_the_dlq_and_fails_with_credits_released(
    stack: LocalStack, app: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a provider that answers 500 to every submission of the task, and SQS time running
    # 40x faster than the rest of the stack (the backoff of 8 receives is ~21 schedule minutes);
    # the task's heartbeat keeps the stack's scale, so it cannot run out before the 8th receive
    monkeypatch.setenv("QUEUE_TIME_SCALE", "0.0005")
    phone = Phone(app)
    # WHEN the job runs
    job = app.wait(app.create(sim_job(1, serverErrors=100))["jobId"], timeout=30)
    # THEN after the queue's maxReceiveCount (8) submissions the message reached the DLQ, whose
    # consumer failed the task, and the credit is back
    assert job["status"] == "FAILED"
    assert "dead-letter queue" in job["tasks"][0]["error"]
    assert ledger(app) == (50, 50, 0, 0)
    stats = sim_stats(stack)
    key = job_keys(job["jobId"], 1)[0]
    assert stats["submit_attempts_per_key"][key] == 8
    assert key not in stats["creates_per_key"]
    timeline = kinds(app, job["jobId"])
    assert timeline["task.submit_retry"] == 8
    assert timeline["task.failed"] == 1
    assert one_push(stack, phone)["data"]["status"] == "FAILED"


def test_throttling_that_never_ends_fails_every_task_through_the_dlq_and_strands_none(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a provider that throttles every submission of 6 concurrent tasks forever
    created = app.create(sim_job(6, throttle=1000, retryAfter=10) | {"concurrency": 6})
    # WHEN the job runs (many submitter batches in flight at once)
    job = app.wait(created["jobId"], timeout=30)
    # THEN every message reached the DLQ after maxReceiveCount submissions: no message was lost
    # and no task was left PENDING, every credit is back and no prediction exists
    assert job["status"] == "FAILED"
    assert job["counts"]["FAILED"] == 6
    assert ledger(app) == (50, 50, 0, 0)
    stats = sim_stats(stack)
    keys = job_keys(job["jobId"], 6)
    # (8 receives each: one of them may die before reaching the provider when a slow batch outlives
    # its visibility timeout, so the provider sees at most 8 attempts and at least one)
    assert all(1 <= stats["submit_attempts_per_key"][k] <= 8 for k in keys)
    assert {t["error"] for t in job["tasks"]} == {
        "the submission kept failing and was moved to the dead-letter queue"
    }
    assert not set(keys) & set(stats["creates_per_key"])


# ------------------------------------------------------------------------------------------ replays
def _deliver(stack: LocalStack, job_id: str, index: int, webhook_id: str, prediction: dict[str, Any]) -> str:
    body = json.dumps(prediction).encode()
    response = requests.post(
        f"{stack.api_url}/webhooks/simulator",
        params={"job": job_id, "task": str(index)},
        data=body,
        headers=signed_headers(DEFAULT_WEBHOOK_SECRET, webhook_id, body),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["result"])


def test_replaying_every_step_of_a_finished_job_charges_and_pushes_nothing_more(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a finished webhook job of 2 tasks, its push received
    phone = Phone(app)
    job_id = app.create(sim_job(2, model="sim-image-webhook"))["jobId"]
    job = app.wait(job_id, timeout=30)
    assert job["status"] == "COMPLETED"
    one_push(stack, phone)
    before: Callable[[], Any] = lambda: (  # noqa: E731
        ledger(app),
        {k: v for k, v in app.job(job_id).items() if k in ("status", "counts", "credits", "finishedAt")},
        [{k: t[k] for k in ("status", "providerId", "finishedAt")} for t in app.job(job_id)["tasks"]],
        {k: sim_stats(stack)["creates_per_key"][k] for k in job_keys(job_id, 2)},
    )
    snapshot = before()
    timeline = kinds(app, job_id)

    # WHEN every step is replayed: settlement, the notifier, the task functions, a redelivered
    # submission, the provider's last webhook (same webhook-id) and a new delivery of it
    assert stack.invoke("SettleJobFunction", {"jobId": job_id}) == {"jobId": job_id, "status": "COMPLETED"}
    event = {
        "type": "job.completed",
        "jobId": job_id,
        "userId": app.user,
        "status": "COMPLETED",
        "counts": {"completed": 2},
        "credits": {"unitPrice": 1, "reserved": 2, "charged": 2},
    }
    stack.invoke("NotifierFunction", {"Records": [_sqs_record(json.dumps(event))]})
    for index in (0, 1):
        ref = {"jobId": job_id, "taskIndex": index}
        assert stack.invoke("PollTaskFunction", ref) == ref | {"ended": True}
        stack.invoke("FailTaskFunction", ref | {"error": {"Error": "States.Timeout", "Cause": "replayed"}})
        body = json.dumps(ref | {"taskToken": "a-token-answered-long-ago"})
        assert stack.invoke("SubmitterFunction", {"Records": [_sqs_record(body)]}) == {
            "batchItemFailures": []
        }
        provider_id = job["tasks"][index]["providerId"]
        prediction = requests.get(f"{stack.simulator_url}/v1/predictions/{provider_id}", timeout=10).json()
        assert _deliver(stack, job_id, index, f"msg_{provider_id}_2", prediction) == "duplicate"
        assert _deliver(stack, job_id, index, f"msg_{provider_id}_replay", prediction) == "applied"
    stack.wait_idle()

    # THEN nothing the user sees changed: ledger, job, tasks, predictions, one push
    assert before() == snapshot
    assert len(phone.pushes()) == 1
    after = kinds(app, job_id)
    for kind in ("task.completed", "task.failed", "job.settled", "job.event_published", "job.push_sent"):
        assert after[kind] == timeline[kind], kind


def _sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": "replayed-message",
        "receiptHandle": "replayed-receipt",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "0",
            "SenderId": "123456789012",
            "ApproximateFirstReceiveTimestamp": "0",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:replayed",
        "awsRegion": "us-east-1",
    }


def test_a_submission_whose_task_token_no_longer_waits_is_never_sent_to_the_provider(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a job whose second task is still PENDING (one at a time; the first runs long)
    body = sim_job(2) | {"concurrency": 1}
    body["tasks"][0]["sim"] = {"latency": 500}
    job_id = app.create(body)["jobId"]
    app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 1)
    # WHEN a submission of the pending task arrives whose wait already timed out (its token is dead)
    record = _sqs_record(json.dumps({"jobId": job_id, "taskIndex": 1, "taskToken": "a-token-that-timed-out"}))
    assert stack.invoke("SubmitterFunction", {"Records": [record]}) == {"batchItemFailures": []}
    # THEN nothing is paid for at the provider: no submission, and the task is still PENDING
    assert job_keys(job_id, 2)[1] not in sim_stats(stack)["submit_attempts_per_key"]
    assert app.job(job_id)["tasks"][1]["status"] == "PENDING"
    assert app.post(f"/jobs/{job_id}/cancel").status_code == 202
    assert app.wait(job_id)["status"] == "CANCELLED"


def peak_in_flight(tasks: list[dict[str, Any]]) -> int:
    """The most tasks at their provider at once, from each task's submission and end."""
    edges = sorted(
        [(datetime.fromisoformat(t["finishedAt"]), -1) for t in tasks]
        + [(datetime.fromisoformat(t["submittedAt"]), 1) for t in tasks]
    )
    peak = running = 0
    for _, step in edges:  # an end sorts before a submission at the same instant
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize(
    ("tasks", "concurrency", "children", "latency"),
    [(6, 2, 1, 600), (4, 4, 1, 1500)],
    ids=["more-tasks-than-concurrency", "all-at-once"],
)
def test_a_job_runs_in_batches_never_more_in_flight_than_its_concurrency(
    stack: LocalStack, app: Client, tasks: int, concurrency: int, children: int, latency: int
) -> None:
    from genjobs_local import metering

    # GIVEN webhook tasks of `latency` s each (12 s or 30 s of wall time: long enough that a wave's
    # submissions overlap however a busy CI machine spreads them), and the meter
    meter = metering.enable()
    meter.reset()
    try:
        # WHEN a job of `tasks` tasks runs `concurrency` at a time
        body = sim_job(tasks, model="sim-image-webhook", latency=latency) | {"concurrency": concurrency}
        job = app.wait(app.create(body)["jobId"], timeout=60)
        started = meter.snapshot()["executions"]["child"]
    finally:
        metering.disable()
    # THEN every task completed, as many at once as the concurrency allows and never more
    assert job["status"] == "COMPLETED"
    assert peak_in_flight(job["tasks"]) == min(tasks, concurrency)
    # AND the Distributed Map started one child per batch: here one, running the job's tasks
    # `concurrency` at a time (the next starts when one ends)
    assert started == children
