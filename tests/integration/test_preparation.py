"""What PrepareJob tells the workflow (moto, no workflow): whether the job's tasks run at all, and
when a polled task is first checked; and what settlement does with a job cancelled before its
tasks ran, which the workflow sends straight from PrepareJob to SettleJob."""

from __future__ import annotations

from genjobs.deps import Deps
from genjobs.logic import credits, jobs
from genjobs.logic.preparation import prepare
from genjobs.logic.settlement import settle
from genjobs.models.api import CreateJobRequest


def create(deps: Deps, user: str, model: str, count: int) -> str:
    deps.credits.grant(user, 10, f"grant-{user}", None)
    request = CreateJobRequest(provider="simulator", model=model, tasks=[{"seed": i} for i in range(count)])
    return jobs.create_job(deps, user, request, None).job_id


def test_an_active_job_runs_its_tasks_first_checked_at_the_model_latency(deps: Deps) -> None:
    # GIVEN a job of a polled model whose catalog latency is 300 s
    job_id = create(deps, "u1", "sim-3d", 2)
    # WHEN PrepareJob runs
    prepared = prepare(deps, job_id)
    # THEN the workflow runs its tasks and checks each first after the model's expected latency
    assert prepared.cancel_requested is False
    assert prepared.first_check_seconds == 300


def test_a_job_cancelled_before_its_tasks_ran_is_settled_cancelled_and_refunded(deps: Deps) -> None:
    # GIVEN a 3-task job cancelled before its workflow prepared it
    job_id = create(deps, "u1", "sim-image", 3)
    jobs.cancel_job(deps, "u1", job_id)
    # WHEN PrepareJob runs
    prepared = prepare(deps, job_id)
    # THEN it tells the workflow to skip the tasks
    assert prepared.cancel_requested is True
    # AND settlement, the next state, ends every task CANCELLED unsubmitted and refunds every credit
    settle(deps, job_id)
    job = jobs.get_job(deps, "u1", job_id)
    assert job.status == "CANCELLED"
    assert job.counts.model_dump(by_alias=True)["CANCELLED"] == 3
    assert [(t.status, t.provider_id) for t in job.tasks] == [("CANCELLED", None)] * 3
    assert (job.credits.charged, job.credits.refunded) == (0, 3)
    balance = credits.balance(deps, "u1")
    assert (balance.available, balance.reserved, balance.charged) == (10, 0, 0)
    events = jobs.list_events(deps, "u1", job_id, 100, None)["items"]
    reasons = [e["detail"].get("reason") for e in events if e["kind"] == "task.cancelled"]
    assert reasons == ["job cancelled before submission"] * 3
