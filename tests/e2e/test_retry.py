"""Retrying an ended job on the embedded stack: its failed (or cancelled) tasks run again in the same
job as their next attempt, credits reserved for exactly those, what completed kept and never charged
again, every attempt on the task, the timeline and the ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, Phone, sim_stats, wait_for
from tests.e2e.test_pipelines import AVATAR, RENDER, by_step, pipeline, tasks_of
from tests.e2e.test_workflow import kinds, ledger

pytestmark = [pytest.mark.e2e]


def job_of(*sims: dict[str, Any]) -> dict[str, Any]:
    """A one-step job of one simulator task per `sims` entry, each with its own provider script."""
    return {
        "provider": "simulator",
        "model": "sim-image",
        "input": {"prompt": "test"},
        "tasks": [{"seed": i, "sim": {"latency": 1, **sim}} for i, sim in enumerate(sims)],
    }


def retry(
    app: Client, job_id: str, body: dict[str, Any] | None = None, key: str | None = None
) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return app.post(f"/jobs/{job_id}/retry", json=body or {}, headers=headers)


def ledger_entries(stack: LocalStack, app: Client, job_id: str) -> dict[str, int]:
    """The user's ledger entries of the job: entry id (without the job's prefix) -> amount."""
    response = stack.client("dynamodb").query(
        TableName=stack.resource("JobsTable"),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": f"USER#{app.user}"}, ":sk": {"S": f"LEDGER#JOB#{job_id}#"}},
        ConsistentRead=True,
    )
    prefix = f"LEDGER#JOB#{job_id}#"
    return {item["sk"]["S"].removeprefix(prefix): int(item["amount"]["N"]) for item in response["Items"]}


def test_a_failed_task_is_retried_to_success_and_charged_once_per_attempt(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a 3-task job whose second task fails at its first attempt only, and a phone
    phone = Phone(app)
    job_id = app.create(job_of({}, {"failAttempts": 1}, {}))["jobId"]
    first = app.wait(job_id)
    assert first["status"] == "COMPLETED"
    assert first["counts"]["FAILED"] == 1
    wait_for(phone.pushes, what="the first push")
    # WHEN the user retries it (twice with the same Idempotency-Key)
    response = retry(app, job_id, key="retry-once")
    again = retry(app, job_id, key="retry-once")
    # THEN it is PROCESSING again with one more credit reserved, and the repeat changed nothing
    assert response.status_code == 202, response.text
    assert again.status_code == 202, again.text
    assert response.json()["status"] == "PROCESSING"
    assert response.json()["retries"] == again.json()["retries"] == 1
    assert response.json()["credits"]["reserved"] == 4
    job = app.wait(job_id)
    # AND the failed task ran again and completed; the others were not run again
    assert job["status"] == "COMPLETED", job
    assert job["counts"]["COMPLETED"] == 3
    retried = job["tasks"][1]
    assert retried["attempt"] == 2
    (earlier,) = retried["attempts"]
    assert earlier["attempt"] == 1
    assert earlier["status"] == "FAILED"
    assert "simulated failure" in earlier["error"]
    assert earlier["providerId"]
    assert earlier["providerId"] != retried["providerId"]
    assert earlier["finishedAt"]
    assert [t["attempt"] for t in job["tasks"]] == [1, 2, 1]
    keys = sim_stats(stack)["submit_attempts_per_key"]
    assert f"{job_id}:1:a2" in keys
    assert f"{job_id}:0:a2" not in keys
    # AND every attempt is on the ledger and the bill is exact: 3 charged, 1 refunded, none reserved
    assert ledger(app) == (50, 47, 0, 3)
    assert (job["credits"]["reserved"], job["credits"]["charged"], job["credits"]["refunded"]) == (4, 3, 1)
    entries = ledger_entries(stack, app, job_id)
    assert entries["TASK#000001#RELEASE"] == 1
    assert entries["RETRY#01#RESERVE"] == 1
    assert entries["TASK#000001#ATTEMPT#02#CHARGE"] == 1
    assert sum(1 for e in entries if e.endswith("CHARGE")) == 3
    # AND the timeline marks the retry, and the user is told of each end
    timeline = kinds(app, job_id)
    assert (timeline["job.retried"], timeline["task.retried"], timeline["job.settled"]) == (1, 1, 2)
    marked = next(e for e in app.events(job_id) if e["kind"] == "job.retried")
    assert marked["detail"]["taskIndexes"] == [1]
    wait_for(lambda: len(phone.pushes()) == 2, what="the second push")


def test_a_cancelled_job_is_restarted_to_completion_keeping_what_finished(app: Client) -> None:
    # GIVEN a job of 4 tasks run one at a time, cancelled once the first completed
    # (each task takes 2 s on the test clock: the cancel comes before the last one ends)
    body = {**job_of(*[{"latency": 100}] * 4), "concurrency": 1}
    job_id = app.create(body)["jobId"]
    app.wait(job_id, until=lambda j: j["counts"]["COMPLETED"] >= 1)
    assert app.post(f"/jobs/{job_id}/cancel").status_code == 202
    cancelled = app.wait(job_id)
    assert cancelled["status"] == "CANCELLED"
    kept = cancelled["counts"]["COMPLETED"]
    assert kept < 4
    # WHEN the user restarts it
    response = retry(app, job_id, {"include": ["cancelled"]})
    assert response.status_code == 202, response.text
    assert response.json()["credits"]["reserved"] == 4 + (4 - kept)
    job = app.wait(job_id)
    # THEN every task completed, the finished ones once, and the bill is exactly 4
    assert job["status"] == "COMPLETED", job
    assert job["counts"]["COMPLETED"] == 4
    assert sum(t["attempt"] for t in job["tasks"]) == 4 + (4 - kept)
    assert job["credits"]["charged"] == 4
    assert ledger(app) == (50, 46, 0, 4)


def test_a_pipeline_item_is_retried_with_the_tasks_skipped_because_of_it(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN three scenes whose second speech fails once: its avatar is skipped, the render runs on two
    speech = {
        "name": "speech",
        "kind": "sync",
        "provider": "simulator",
        "model": "sim-tts",
        "tasks": [{"text": "a"}, {"text": "b", "sim": {"failAttempts": 1}}, {"text": "c"}],
    }
    avatar = {**AVATAR, "input": {"audio": "${item.outputs[0].url}", "sim": {"latency": 2}}}
    render = {
        **RENDER,
        "overAll": {"steps": ["avatar"], "needs": "succeeded"},
        "input": {"avatars": "${steps.avatar.outputs}", "backgrounds": "${steps.avatar.outputs}"},
    }
    job_id = app.create(pipeline([speech, avatar, render]))["jobId"]
    first = app.wait(job_id, timeout=60)
    assert first["status"] == "COMPLETED", first
    assert [t["status"] for t in by_step(tasks_of(app, job_id), "avatar")][1] == "SKIPPED"
    # WHEN the user retries it
    response = retry(app, job_id)
    assert response.status_code == 202, response.text
    job = app.wait(job_id, timeout=60)
    # THEN the speech ran again, its avatar ran, and the render ran again over all three scenes
    assert job["status"] == "COMPLETED", job
    tasks = tasks_of(app, job_id)
    assert [t["status"] for t in by_step(tasks, "speech")] == ["COMPLETED"] * 3
    assert [t["attempt"] for t in by_step(tasks, "speech")] == [1, 2, 1]
    assert [t["status"] for t in by_step(tasks, "avatar")] == ["COMPLETED"] * 3
    assert by_step(tasks, "avatar")[1]["attempts"][0]["status"] == "SKIPPED"
    (rendered,) = by_step(tasks, "render")
    assert rendered["attempt"] == 2
    assert rendered["result"]["scenes"] == 3
    # AND credits are exact per step: the first attempts' charges stay, the retried ones are added
    assert_credits_exact_with_retries(app, job)
    marked = next(e for e in app.events(job_id) if e["kind"] == "job.retried")
    assert marked["detail"]["taskIndexes"] == [1, 4, 6]


def assert_credits_exact_with_retries(app: Client, job: dict[str, Any]) -> None:
    for step in job["steps"]:
        credits = step["credits"]
        assert credits["reserved"] == credits["charged"] + credits["refunded"], step
    assert job["credits"]["reserved"] == job["credits"]["charged"] + job["credits"]["refunded"]
    account = app.credits()
    assert account["reserved"] == 0
    assert account["granted"] == account["available"] + account["charged"]


def test_refusals_say_why_and_change_nothing(stack: LocalStack, make_user: Callable[..., Client]) -> None:
    app = make_user(3)
    # GIVEN a running job: 409
    running = app.create(job_of({"latency": 6000}))["jobId"]
    refused = retry(app, running)
    assert refused.status_code == 409, refused.text
    assert "PROCESSING" in refused.json()["detail"] or "PENDING" in refused.json()["detail"]
    assert app.post(f"/jobs/{running}/cancel").status_code == 202
    app.wait(running)
    # AND a job with nothing failed: 409 naming what is missing
    done = app.create(job_of({}))["jobId"]
    app.wait(done)
    nothing = app.post(f"/jobs/{done}/retry")  # no body: the failed tasks
    assert nothing.status_code == 409, nothing.text
    assert "nothing to retry" in nothing.json()["detail"]
    # AND a failed job while the user's credits are held by another job: 402, nothing changed
    failed = app.create(job_of({"fail": "no"}, {"fail": "no"}))["jobId"]
    assert app.wait(failed)["status"] == "FAILED"
    holder = app.create(job_of({"latency": 6000}, {"latency": 6000}))["jobId"]
    before = (app.job(failed), app.credits())
    short = retry(app, failed)
    assert short.status_code == 402, short.text
    assert (app.job(failed), app.credits()) == before
    assert kinds(app, failed)["job.retried"] == 0
    assert app.post(f"/jobs/{holder}/cancel").status_code == 202
    app.wait(holder)
    # AND past the configured bound of retries: 409
    for _ in range(stack_max_retries()):
        assert retry(app, failed).status_code == 202
        assert app.wait(failed)["status"] == "FAILED"
    over = retry(app, failed)
    assert over.status_code == 409, over.text
    assert "at most" in over.json()["detail"]
    # AND the bill is exact: every attempt refunded
    job = app.job(failed)
    assert job["credits"]["charged"] == 0
    assert job["credits"]["reserved"] == job["credits"]["refunded"] == 2 * (1 + stack_max_retries())
    assert ledger(app) == (3, 2, 0, 1)


def stack_max_retries() -> int:
    from genjobs.settings import Settings

    return int(Settings.model_fields["max_job_retries"].default)


def test_a_repeated_key_with_another_body_is_refused(app: Client) -> None:
    job_id = app.create(job_of({"fail": "no"}))["jobId"]
    app.wait(job_id)
    assert retry(app, job_id, key="k").status_code == 202
    app.wait(job_id)
    reused = retry(app, job_id, {"include": ["failed", "cancelled"]}, key="k")
    assert reused.status_code == 422, reused.text
    assert json.loads(reused.text)["errors"][0]["field"] == "Idempotency-Key"


# ----------------------------------------------------------------------------- operators, in bulk
def bulk(operator: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = operator.post("/admin/jobs/bulk", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def test_operators_retry_every_failed_job_of_an_outage_once_counted_first(
    stack: LocalStack, operator: Client, make_user: Callable[..., Client]
) -> None:
    # GIVEN two users whose jobs failed during a provider's outage (each task fails its first attempt)
    since = datetime.now(UTC).isoformat()
    users = [make_user(5), make_user(5)]
    failed = [user.create(job_of({"failAttempts": 1}))["jobId"] for user in users]
    assert [u.wait(j)["status"] for u, j in zip(users, failed, strict=True)] == ["FAILED", "FAILED"]
    # (no status in the filter: a job it retried still matches when a page comes again)
    outage = {"action": "retry", "filter": {"model": "sim-image", "createdFrom": since}}
    # WHEN an operator counts them first
    counted = bulk(operator, {**outage, "dryRun": True})
    # THEN the count is theirs, and nothing changed
    assert (counted["status"], counted["matched"]) == ("DRY_RUN", 2)
    assert all(kinds(u, j)["job.retried"] == 0 for u, j in zip(users, failed, strict=True))
    # WHEN the operator runs it, and its first page is delivered a second time
    operation = bulk(operator, outage)
    path = f"/admin/operations/{operation['operationId']}"
    wait_for(lambda: operator.get(path).json()["status"] == "DONE", timeout=60, what="the operation done")
    again = json.dumps({"operationId": operation["operationId"]})
    stack.client("sqs").send_message(QueueUrl=stack.resource("BulkQueue"), MessageBody=again)
    stack.wait_idle()
    # THEN each job was retried once and completed, the operation counted each once
    progress = operator.get(path).json()
    assert (progress["done"], progress["skipped"]) == (2, 0)
    for user, job_id in zip(users, failed, strict=True):
        job = user.wait(job_id)
        assert (job["status"], job["retries"]) == ("COMPLETED", 1)
        assert ledger(user) == (5, 4, 0, 1)
    # AND only operators may
    assert users[0].post("/admin/jobs/bulk", json=outage).status_code == 403
    assert users[0].get(path).status_code == 403


def test_operators_cancel_the_running_jobs_of_a_model_keeping_what_finished(
    operator: Client, make_user: Callable[..., Client]
) -> None:
    # GIVEN a user's job of a model that hangs at its provider, running
    since = datetime.now(UTC).isoformat()
    user = make_user(5)
    # (6000 s: two minutes of the test, so the job cannot end before the cancel on a slow machine)
    job_id = user.create(job_of({"latency": 6000}, {"latency": 6000}))["jobId"]
    user.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 2)
    # WHEN an operator cancels every running job of that model
    stuck = {
        "action": "cancel",
        "filter": {"status": ["PROCESSING"], "model": "sim-image", "createdFrom": since},
    }
    operation = bulk(operator, stuck)
    path = f"/admin/operations/{operation['operationId']}"
    wait_for(lambda: operator.get(path).json()["status"] == "DONE", timeout=60, what="the operation done")
    # THEN the job is cancelled and refunded, as if its user had cancelled it
    job = user.wait(job_id)
    assert job["status"] == "CANCELLED"
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (0, 2)
    assert operator.get(path).json()["done"] == 1
    assert ledger(user) == (5, 5, 0, 0)
