"""Adversarial workflow cases on the embedded stack: providers that say `succeeded` and deliver
nothing (outputs gone, never downloadable, or none at all) in both waiting modes, a cancel while
such a task waits, and what a client reads of a job before its workflow has written a task.

Every job must end by itself within a bound, FAILED (or CANCELLED) with a reason when nothing was
delivered, never charged for it, and the user's ledger must hold with nothing left reserved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import TIME_SCALE, Client, sim_job, wait_for
from tests.e2e.test_faults import assert_guarantees
from tests.e2e.test_workflow import kinds, ledger
from tests.e2e.test_workflow_cancel import cancel, held

pytestmark = [pytest.mark.e2e]

# Wall seconds: the expected latency plus the webhook grace (2.8 s here), then a couple of sweeps.
BOUND = 15.0


def settled_ledger(app: Client, granted: int = 50) -> None:
    """granted == available + reserved + charged, and nothing reserved once the user's jobs ended."""
    credits = app.credits()
    assert credits["granted"] == granted
    assert credits["granted"] == credits["available"] + credits["reserved"] + credits["charged"]
    assert credits["reserved"] == 0


def job_with_no_5xx(app: Client, job_id: str) -> dict[str, Any]:
    response = app.get(f"/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


# ------------------------------------------------------------------ success that delivers nothing
GONE_CASES = {
    "webhook": ("sim-image-webhook", {}),
    "webhook lost, swept": ("sim-image-webhook", {"webhook": {"drop": True}}),
    "polled": ("sim-image", {}),
    "polled, 410": ("sim-image", {"expiredStatus": 410}),
}


@pytest.mark.parametrize("case", list(GONE_CASES))
def test_success_whose_output_is_gone_fails_promptly_in_each_waiting_mode_and_refunds(
    stack: LocalStack, app: Client, case: str
) -> None:
    # GIVEN a provider that says `succeeded` but whose output URL already answers 404/410
    model, extra = GONE_CASES[case]
    created = app.create(sim_job(1, model=model, expireOutputs=0, **extra))
    # WHEN the task is observed (by webhook, sweep or poll)
    started = time.monotonic()
    job = app.wait(created["jobId"], timeout=BOUND)
    # THEN it ended FAILED with the reason, within the bound, and its credit came back
    assert time.monotonic() - started < BOUND
    assert job["status"] == "FAILED"
    (task,) = job["tasks"]
    assert task["status"] == "FAILED"
    assert task["error"].startswith("provider.output_gone")
    assert task["outputs"] == []
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 50, 0, 0)
    # AND a dead task is not swept again and again
    stack.wait_idle()
    assert kinds(app, job["jobId"])["task.swept"] <= 1


@pytest.mark.parametrize("model", ["sim-image", "sim-image-webhook"])
def test_success_with_no_output_file_fails_and_is_refunded_in_each_waiting_mode(
    stack: LocalStack, app: Client, model: str
) -> None:
    # GIVEN a provider that reports success with no output file, for one task of two
    body = sim_job(2, model=model) | {"concurrency": 2}
    body["tasks"][1]["sim"] = {"latency": 5, "outputs": 0}
    # WHEN the job runs
    job = app.wait(app.create(body)["jobId"], timeout=BOUND)
    # THEN nothing delivered is not a success: that task FAILED with the reason and was refunded
    assert job["status"] == "COMPLETED"
    delivered, empty = job["tasks"]
    assert delivered["status"] == "COMPLETED"
    assert len(delivered["outputs"]) == 1
    assert empty["status"] == "FAILED"
    assert empty["error"].startswith("provider.no_output")
    assert (job["credits"]["charged"], job["credits"]["refunded"]) == (1, 1)
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 49, 0, 1)


# ------------------------------------------------------------------ cancel while an output can't be kept
def test_cancel_while_a_webhook_task_cannot_keep_its_output_ends_cancelled_promptly(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a webhook task whose provider succeeded but whose output download is always cut off,
    # so the task keeps waiting for a download that may yet work
    created = app.create(sim_job(1, model="sim-image-webhook", truncateOutput=True))
    job_id = created["jobId"]
    wait_for(lambda: kinds(app, job_id)["task.poll_error"] >= 1, timeout=BOUND, what="a failed download")
    # WHEN the user cancels
    assert cancel(app, job_id).status_code == 202
    started = time.monotonic()
    job = app.wait(job_id, timeout=BOUND)
    # THEN the job ends CANCELLED at once, nothing charged, credit back: not when the task would
    # have ended without the cancel (its tenth failed look, ~2,700 s overdue, or its heartbeat's
    # timeout, 3,600 s: 54 and 72 s here). A loaded machine takes seconds for the cancel's chain
    # (API, queue, submitter, provider, token, workflow): 5.3 s in one CI run.
    assert time.monotonic() - started < 500 * TIME_SCALE
    assert job["status"] == "CANCELLED"
    (task,) = job["tasks"]
    assert task["status"] == "CANCELLED"
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 50, 0, 0)


@pytest.mark.slow  # ten failures spaced by the sweeper's growing intervals: about a minute
def test_a_webhook_task_whose_output_never_downloads_ends_failed_within_the_error_bound(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a webhook task whose output download is always cut off (its webhook is retried by the
    # provider, then the sweeper takes over with growing intervals)
    created = app.create(sim_job(1, model="sim-image-webhook", truncateOutput=True))
    job_id = created["jobId"]
    # WHEN nobody intervenes
    job = app.wait(job_id, timeout=120)
    # THEN the task fails after the configured number of consecutive failures, refunded
    assert job["status"] == "FAILED"
    (task,) = job["tasks"]
    assert task["error"].startswith("provider.too_many_errors: 10 consecutive")
    assert_guarantees(stack, app, job)
    assert ledger(app) == (50, 50, 0, 0)
    # AND the sweeper backed off instead of sweeping it every interval
    timeline = app.events(job_id)
    sweeps = [e["at"] for e in timeline if e["kind"] == "task.swept"]
    assert 1 <= len(sweeps) < 10


# ------------------------------------------------------------------ planned tasks from the first read
def matrix_job(prompt: str = "wedding portrait") -> dict[str, Any]:
    return {
        "provider": "simulator",
        "model": "sim-image",
        "input": {"prompt": prompt, "sim": {"latency": 1}},
        "matrix": {"style": ["A", "B", "C"], "role": ["GROOM", "BRIDE"]},
        "count": 5,
    }


EXPECTED_INPUTS = [
    {"style": "A", "role": "GROOM"},
    {"style": "A", "role": "BRIDE"},
    {"style": "B", "role": "GROOM"},
    {"style": "B", "role": "BRIDE"},
    {"style": "C", "role": "GROOM"},
]


def pages(app: Client, job_id: str, limit: int) -> list[list[dict[str, Any]]]:
    found: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = app.get(f"/jobs/{job_id}/tasks", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(body["items"])
        cursor = body["cursor"]
        if not cursor:
            return found


@pytest.mark.parametrize("prompt", ["short", "long " * 300], ids=["plan inline", "plan in S3"])
def test_every_planned_task_is_visible_from_the_first_read(
    stack: LocalStack, make_user: Callable[..., Client], prompt: str
) -> None:
    app = make_user()
    with held(stack, "PrepareJobFunction", "genjobs.handlers.prepare_job.handler") as release:
        # GIVEN a 5-task matrix job whose workflow has not written a task item yet
        created = app.create(matrix_job(prompt))
        job_id = created["jobId"]
        # WHEN the app reads it at once
        job = job_with_no_5xx(app, job_id)
        # THEN the creation answer and the job show every planned task: index, input, PENDING
        for shown in (created, job):
            assert [t["index"] for t in shown["tasks"]] == [0, 1, 2, 3, 4]
            assert {t["status"] for t in shown["tasks"]} == {"PENDING"}
            for task, expected in zip(shown["tasks"], EXPECTED_INPUTS, strict=True):
                assert task["input"] == {"prompt": prompt, "sim": {"latency": 1}, **expected}
                assert task["outputs"] == []
                assert task["providerId"] is None
        # AND the task list pages through them in order, every index once
        paged = pages(app, job_id, limit=2)
        assert [[t["index"] for t in page] for page in paged] == [[0, 1], [2, 3], [4]]
        first = app.get(f"/jobs/{job_id}/tasks", params={"limit": 2}).json()
        release.set()
        # AND a cursor from before the tasks were written continues where it stopped afterwards
        ended = app.wait(job_id, timeout=BOUND)
    rest = app.get(f"/jobs/{job_id}/tasks", params={"limit": 10, "cursor": first["cursor"]})
    assert rest.status_code == 200, rest.text
    assert [t["index"] for t in rest.json()["items"]] == [2, 3, 4]
    # AND the real tasks then have the inputs shown before they ran
    assert ended["status"] == "COMPLETED"
    assert [t["input"] for t in ended["tasks"]] == [t["input"] for t in created["tasks"]]
    settled_ledger(app)


def test_a_cursor_of_another_job_is_refused_before_the_tasks_exist(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    app = make_user()
    done = app.wait(app.create(matrix_job())["jobId"], timeout=BOUND)
    other_cursor = app.get(f"/jobs/{done['jobId']}/tasks", params={"limit": 2}).json()["cursor"]
    with held(stack, "PrepareJobFunction", "genjobs.handlers.prepare_job.handler"):
        # GIVEN a job whose tasks are still only planned
        job_id = app.create(matrix_job())["jobId"]
        before = app.credits()
        # WHEN its task list is read with a cursor of another job
        response = app.get(f"/jobs/{job_id}/tasks", params={"limit": 2, "cursor": other_cursor})
        # THEN it is a 400 naming the cursor (cursors are bound to their listing), and nothing changed
        assert response.status_code == 400, response.text
        assert any(e["field"] == "cursor" for e in response.json()["errors"])
        assert app.credits() == before
