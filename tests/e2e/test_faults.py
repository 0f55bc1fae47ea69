"""Fault injection on the embedded stack: a misbehaving provider (5xx, dropped answers, connection
resets, 429 bursts, slow or truncated downloads, webhooks lost, doubled or reordered) and handlers
crashing at each step boundary (the product's checkpoints, armed with genjobs_local.faults),
duplicate SQS deliveries and a cancel racing the completions.

Whatever the fault, every job must end by itself within a bound with the same guarantees:
  - the ledger holds (granted = available + reserved + charged) and nothing stays reserved,
  - no prediction is paid twice (one prediction per idempotency key at the provider),
  - no output is lost (every COMPLETED task has its outputs in our bucket),
  - no task is charged twice (the job's charge = COMPLETED tasks x price),
  - at most one push per job and device (exactly one where a phone is registered).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest
import requests

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import TERMINAL, Client, Phone, job_keys, sim_job, sim_stats, wait_for
from tests.e2e.test_workflow import assert_outputs_downloadable, kinds, ledger, one_push
from tests.e2e.test_workflow_cancel import held

pytestmark = [pytest.mark.e2e]

BOUND = 30.0  # wall seconds within which every faulty job must have ended by itself


# ----------------------------------------------------------------------------------- helpers
def faults() -> ModuleType:
    """Where the local stack's functions crash on demand (their checkpoints)."""
    return importlib.import_module("genjobs_local.faults")


@pytest.fixture
def crash(stack: LocalStack) -> Iterator[Callable[[str, int, str], None]]:
    """Arms a checkpoint for a scope (a user): the next `times` passes there crash."""
    module = faults()
    yield lambda name, times, scope: module.arm(name, times, scope)
    module.disarm_all()


def crashes(name: str, scope: str) -> int:
    return int(faults().fired(name, scope))


def assert_guarantees(stack: LocalStack, app: Client, job: dict[str, Any], *, price: int = 1) -> None:
    """What must hold for a job whatever went wrong on its way (see the module's docstring)."""
    job_id = job["jobId"]
    assert job["status"] in TERMINAL, job["status"]
    counts = job["counts"]
    n = job["plan"]["taskCount"]
    assert counts["COMPLETED"] + counts["FAILED"] + counts["CANCELLED"] == n, counts
    # the ledger: every credit reserved for the job is charged or back
    granted, available, reserved, charged = ledger(app)
    assert granted == available + reserved + charged
    assert reserved == 0
    # no task charged twice, none left unsettled
    assert job["credits"]["charged"] == counts["COMPLETED"] * price
    assert job["credits"]["charged"] + job["credits"]["refunded"] == n * price
    # no prediction paid twice
    creates = sim_stats(stack)["creates_per_key"]
    assert all(creates.get(key, 0) <= 1 for key in job_keys(job_id, n)), creates
    for task in job["tasks"]:
        if task["providerId"]:
            assert creates.get(f"{job_id}:{task['index']}") == 1
    # no output lost
    assert_outputs_downloadable(job)
    # the timeline agrees: one terminal event per task, one settlement
    timeline = kinds(app, job_id)
    assert timeline["task.completed"] == counts["COMPLETED"]
    assert timeline["task.failed"] + timeline["task.cancelled"] == counts["FAILED"] + counts["CANCELLED"]
    assert timeline["job.settled"] == 1


# ------------------------------------------------------------------------------ provider faults
def test_provider_5xx_resets_429_bursts_and_poll_errors_complete_every_task_once(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a job whose every task meets another provider fault: 5xx on submit, the answer of an
    # accepted submit lost twice (a timeout or reset after the provider processed it), a 429 burst,
    # 500s on status reads, and all of it at once
    phone = Phone(app)
    body = sim_job(5) | {"concurrency": 5}
    body["tasks"][0]["sim"] = {"latency": 5, "serverErrors": 3}
    body["tasks"][1]["sim"] = {"latency": 5, "dropResponses": 2}
    body["tasks"][2]["sim"] = {"latency": 5, "throttle": 4, "retryAfter": 5}
    body["tasks"][3]["sim"] = {"latency": 5, "statusErrors": 5}
    body["tasks"][4]["sim"] = {"latency": 5, "throttle": 1, "serverErrors": 1, "dropResponses": 1}
    # WHEN it runs
    job = app.wait(app.create(body)["jobId"], timeout=BOUND)
    # THEN every task completed with its output, charged once, one prediction each
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 5
    assert_guarantees(stack, app, job)
    stats = sim_stats(stack)
    attempts = [stats["submit_attempts_per_key"][k] for k in job_keys(job["jobId"], 5)]
    assert attempts == [4, 3, 5, 1, 4]
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"


def test_unreachable_provider_fails_the_task_through_the_dlq_and_refunds_it(
    stack: LocalStack, app: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a provider whose connection is reset on every submission, and SQS time running faster
    # (8 receives with backoff are ~21 schedule minutes; a faster SQS would also redeliver the
    # messages of healthy tasks in flight, so the job has only this task)
    monkeypatch.setenv("QUEUE_TIME_SCALE", "0.0005")
    # WHEN the job runs
    job = app.wait(app.create(sim_job(1, unreachable=True))["jobId"], timeout=BOUND)
    # THEN the task failed after maxReceiveCount attempts without any prediction, and is refunded
    assert job["status"] == "FAILED"
    assert "dead-letter queue" in job["tasks"][0]["error"]
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 50, 0, 0)
    stats = sim_stats(stack)
    key = job_keys(job["jobId"], 1)[0]
    assert stats["submit_attempts_per_key"][key] == 8
    assert key not in stats["creates_per_key"]


def test_truncated_then_whole_downloads_keep_the_output_and_slow_ones_too(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a job whose first output download is cut half-way twice, and whose second is slow
    body = sim_job(2, outputBytes=50_000, outputFormat="bin")
    body["tasks"][0]["sim"] = {
        "latency": 5,
        "truncateDownloads": 2,
        "outputBytes": 50_000,
        "outputFormat": "bin",
    }
    body["tasks"][1]["sim"] = {
        "latency": 5,
        "downloadDelay": 0.5,
        "outputBytes": 50_000,
        "outputFormat": "bin",
    }
    # WHEN it runs
    job = app.wait(app.create(body)["jobId"], timeout=BOUND)
    # THEN both tasks completed with their whole output in our bucket, never a truncated one
    assert job["status"] == "COMPLETED"
    for task in job["tasks"]:
        (output,) = task["outputs"]
        assert output["size"] == 50_000
        assert len(requests.get(output["url"], timeout=10).content) == 50_000
    # AND the truncated downloads were poll errors the task absorbed
    assert kinds(app, job["jobId"])["task.poll_error"] == 2
    assert ledger(app) == (50, 48, 0, 2)


def test_output_that_is_always_truncated_fails_the_task_instead_of_completing_without_it(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a provider whose output download is always cut half-way
    # WHEN the task runs
    job = app.wait(app.create(sim_job(1, truncateOutput=True))["jobId"], timeout=BOUND)
    # THEN the task never completed without its output: it failed after the poll error limit, refunded
    assert job["status"] == "FAILED"
    assert "download of output 0 failed" in job["tasks"][0]["error"]
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 50, 0, 0)


def test_webhooks_lost_doubled_or_out_of_order_each_end_their_task_once(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a webhook job whose tasks' webhooks are dropped, sent twice, and reordered
    phone = Phone(app)
    body = sim_job(3, model="sim-image-webhook") | {"concurrency": 3}
    body["tasks"][0]["sim"] = {"latency": 5, "webhook": {"drop": True}}
    body["tasks"][1]["sim"] = {"latency": 5, "webhook": {"duplicate": True}}
    body["tasks"][2]["sim"] = {"latency": 5, "webhook": {"outOfOrder": True, "duplicate": True}}
    # WHEN it runs
    job = app.wait(app.create(body)["jobId"], timeout=BOUND)
    # THEN every task completed once and was charged once: the lost webhook by the sweeper, the
    # doubled and late ones ignored after the terminal one
    assert job["status"] == "COMPLETED"
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 47, 0, 3)
    timeline = app.events(job["jobId"])
    swept = {e["taskIndex"] for e in timeline if e["kind"] == "task.swept"}
    assert 0 in swept
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"


# ------------------------------------------------------------------------------ handler crashes
def test_submitter_crash_after_the_provider_accepted_resubmits_the_same_prediction(
    stack: LocalStack, app: Client, crash: Callable[[str, int, str], None]
) -> None:
    # GIVEN a submitter that crashes twice after the provider accepted a submission of this user's
    # job, before the prediction is recorded
    crash("submit.after_provider_accepted", 2, app.user)
    # WHEN a 2-task job runs
    job = app.wait(app.create(sim_job(2))["jobId"], timeout=BOUND)
    # THEN the redelivered messages submitted again with the same idempotency key: the same
    # prediction came back, nothing was paid twice and both tasks completed
    assert crashes("submit.after_provider_accepted", app.user) == 2
    assert job["status"] == "COMPLETED"
    assert_guarantees(stack, app, job)
    stats = sim_stats(stack)
    keys = job_keys(job["jobId"], 2)
    assert sum(stats["submit_attempts_per_key"][k] for k in keys) == 4
    assert [stats["creates_per_key"][k] for k in keys] == [1, 1]


def test_submitter_crash_of_a_webhook_task_completes_by_its_webhook(
    stack: LocalStack, app: Client, crash: Callable[[str, int, str], None]
) -> None:
    # GIVEN a webhook task whose submitter crashes after the provider accepted it (the provider may
    # send its webhooks before we recorded the prediction)
    crash("submit.after_provider_accepted", 1, app.user)
    # WHEN the job runs
    job = app.wait(app.create(sim_job(1, model="sim-image-webhook"))["jobId"], timeout=BOUND)
    # THEN it completed once, with one prediction
    assert crashes("submit.after_provider_accepted", app.user) == 1
    assert job["status"] == "COMPLETED"
    assert_guarantees(stack, app, job)


@pytest.mark.parametrize("model", ["sim-image", "sim-image-webhook"])
def test_crash_after_the_output_was_stored_completes_the_task_instead_of_failing_it(
    stack: LocalStack, app: Client, crash: Callable[[str, int, str], None], model: str
) -> None:
    # GIVEN a poll (or webhook) handler that crashes once after copying a task's output into our
    # bucket, before the task is marked COMPLETED
    crash("outputs.after_stored", 1, app.user)
    # WHEN a job runs
    job = app.wait(app.create(sim_job(1, model=model))["jobId"], timeout=BOUND)
    # THEN the prediction that succeeded is not lost: the step was retried (Step Functions Retry of
    # the poll, the provider's retry of the webhook) and the task COMPLETED, charged once
    assert crashes("outputs.after_stored", app.user) == 1
    assert job["status"] == "COMPLETED", job["tasks"][0].get("error")
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 49, 0, 1)
    timeline = kinds(app, job["jobId"])
    assert timeline["task.outputs_stored"] == 2
    # AND a webhook task was completed by the provider's retry, not left to the sweeper
    assert timeline["task.swept"] == 0


def test_crash_while_preparing_the_job_is_retried_not_failed(
    stack: LocalStack, app: Client, crash: Callable[[str, int, str], None]
) -> None:
    # GIVEN a PrepareJob that crashes once after writing the task items
    crash("prepare.after_tasks_written", 1, app.user)
    # WHEN a 3-task job runs
    job = app.wait(app.create(sim_job(3))["jobId"], timeout=BOUND)
    # THEN the preparation was retried and every task completed
    assert crashes("prepare.after_tasks_written", app.user) == 1
    assert job["status"] == "COMPLETED"
    assert_guarantees(stack, app, job)


def test_crash_in_the_middle_of_settlement_publishes_once_and_pushes_once(
    stack: LocalStack, app: Client, crash: Callable[[str, int, str], None]
) -> None:
    # GIVEN a settlement that crashes twice after settling the credits, before publishing
    phone = Phone(app)
    crash("settle.after_finish", 2, app.user)
    # WHEN a 2-task job runs
    job = app.wait(app.create(sim_job(2))["jobId"], timeout=BOUND)
    # THEN the settlement was retried: credits settled once, the event published, one push
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"
    assert crashes("settle.after_finish", app.user) == 2
    assert_guarantees(stack, app, job)
    assert kinds(app, job["jobId"])["job.event_published"] == 1


def test_crash_between_publishing_and_marking_it_still_pushes_once(
    stack: LocalStack, app: Client, crash: Callable[[str, int, str], None]
) -> None:
    # GIVEN a settlement that crashes once after publishing the job's event, before marking it
    phone = Phone(app)
    crash("settle.after_publish", 1, app.user)
    # WHEN a job runs (its event is published twice)
    job = app.wait(app.create(sim_job(1))["jobId"], timeout=BOUND)
    # THEN the phone still gets exactly one push (the notifier's claim per job and device)
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"
    assert crashes("settle.after_publish", app.user) == 1
    assert_guarantees(stack, app, job)
    assert kinds(app, job["jobId"])["job.push_sent"] == 1


def test_crash_before_the_push_pushes_on_redelivery_exactly_once(
    stack: LocalStack, app: Client, crash: Callable[[str, int, str], None]
) -> None:
    # GIVEN a notifier that crashes once after claiming a job's push, before sending it
    phone = Phone(app)
    crash("notify.before_push", 1, app.user)
    # WHEN a job ends
    job = app.wait(app.create(sim_job(1))["jobId"], timeout=BOUND)
    # THEN the redelivered event pushed: one push, not zero and not two
    assert_guarantees(stack, app, job)
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"
    assert crashes("notify.before_push", app.user) == 1


# ------------------------------------------------------------------------ duplicates and races
def twice(stack: LocalStack, function: str, handler: str) -> list[str]:
    """Runs every delivery of `function` twice at the same time (SQS delivers at least once);
    returns the ids of the messages it doubled."""
    module, _, attribute = handler.rpartition(".")
    real = getattr(importlib.import_module(module), attribute)
    pool = ThreadPoolExecutor(4)
    doubled: list[str] = []

    def run_twice(event: Any, context: Any) -> Any:
        doubled.extend(r["messageId"] for r in event["Records"])
        copy = pool.submit(real, event, context)
        result = real(event, context)
        copy.result()
        return result

    stack.override_handler(function, run_twice)
    return doubled


def test_every_sqs_message_delivered_twice_at_once_changes_nothing_twice(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a submitter and a notifier that handle every message twice concurrently
    phone = Phone(app)
    submissions = twice(stack, "SubmitterFunction", "genjobs.handlers.submitter.handler")
    notifications = twice(stack, "NotifierFunction", "genjobs.handlers.notifier.handler")
    try:
        # WHEN a 4-task job runs
        job = app.wait(app.create(sim_job(4) | {"concurrency": 4})["jobId"], timeout=BOUND)
        push = one_push(stack, phone)
    finally:
        stack.override_handler("SubmitterFunction", None)
        stack.override_handler("NotifierFunction", None)
    # THEN each task's submission ran twice (the copy that came second found it recorded, or
    # reached the provider with the same idempotency key) but each task has one prediction,
    # completed and was charged once, and the phone got one push
    assert len(submissions) >= 4
    assert notifications
    assert job["status"] == "COMPLETED"
    assert_guarantees(stack, app, job)
    stats = sim_stats(stack)
    assert all(stats["submit_attempts_per_key"][k] in (1, 2) for k in job_keys(job["jobId"], 4))
    assert ledger(app) == (50, 46, 0, 4)
    assert push["data"]["status"] == "COMPLETED"


def test_cancel_racing_the_completions_keeps_and_charges_what_finished(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a 4-task job whose predictions have all succeeded at the provider, its polls held back
    phone = Phone(app)
    with held(stack, "PollTaskFunction", "genjobs.handlers.poll_task.handler") as release:
        job_id = app.create(sim_job(4, latency=1) | {"concurrency": 4})["jobId"]
        running = app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 4, timeout=BOUND)
        ids = [t["providerId"] for t in running["tasks"]]
        base = stack.simulator_url

        def succeeded() -> bool:
            return all(
                requests.get(f"{base}/v1/predictions/{i}", timeout=10).json()["status"] == "succeeded"
                for i in ids
            )

        wait_for(succeeded, what="the predictions")
        # WHEN the polls (which complete the tasks) and the user's cancel run at the same moment
        go = threading.Barrier(2)
        answer: list[int] = []

        def cancel() -> None:
            go.wait()
            answer.append(app.post(f"/jobs/{job_id}/cancel").status_code)

        canceller = threading.Thread(target=cancel)
        canceller.start()
        go.wait()
        release.set()
        canceller.join()
        job = app.wait(job_id, timeout=BOUND)
    # THEN every finished image is kept and charged once, whichever came first
    assert answer in ([202], [409])
    assert job["counts"]["COMPLETED"] == 4
    assert job["status"] == "COMPLETED"
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 46, 0, 4)
    assert one_push(stack, phone)["data"]["status"] == "COMPLETED"


def test_concurrent_observations_of_one_finished_task_charge_it_once(stack: LocalStack, app: Client) -> None:
    # GIVEN a 2-task job (the second keeps running, so credits stay reserved) whose first
    # prediction has succeeded at the provider, its workflow's polls held back
    with held(stack, "PollTaskFunction", "genjobs.handlers.poll_task.handler") as release:
        body = sim_job(2) | {"concurrency": 2}
        body["tasks"][1]["sim"] = {"latency": 500}
        job_id = app.create(body)["jobId"]
        running = app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 2, timeout=BOUND)
        provider_id = running["tasks"][0]["providerId"]
        wait_for(
            lambda: (
                requests.get(f"{stack.simulator_url}/v1/predictions/{provider_id}", timeout=10).json()[
                    "status"
                ]
                == "succeeded"
            ),
            what="the prediction",
        )
        # WHEN six observations of that task (polls, a sweep, a webhook) apply it at the same moment
        from genjobs_local.lambda_runtime import LambdaContext

        real = importlib.import_module("genjobs.handlers.poll_task").handler
        spec = stack.runner.spec("PollTaskFunction")
        go = threading.Barrier(6)

        def observe() -> Any:
            go.wait()
            return real({"jobId": job_id, "taskIndex": 0}, LambdaContext(spec))

        with ThreadPoolExecutor(6) as pool:
            results = [f.result() for f in [pool.submit(observe) for _ in range(6)]]
        release.set()
        assert all(r["ended"] for r in results)
        # THEN the task completed once and was charged once
        job = app.job(job_id)
        assert job["tasks"][0]["status"] == "COMPLETED"
        assert job["credits"]["charged"] == 1
        assert kinds(app, job_id)["task.completed"] == 1
        granted, available, reserved, charged = ledger(app)
        assert (reserved, charged) == (1, 1)
        assert granted == available + reserved + charged
        assert app.post(f"/jobs/{job_id}/cancel").status_code == 202
    app.wait(job_id, timeout=BOUND)
