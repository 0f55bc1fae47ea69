"""A pipeline's data on DynamoDB (moto, the real repositories): its steps' counters kept by every
task transition, a fan-out sized once with its unused slots released on the ledger under the step's
name, a task planned once, and a signal kept once."""

from __future__ import annotations

from genjobs.deps import Deps
from genjobs.logic import jobs
from genjobs.logic.preparation import plan_next, prepare
from genjobs.logic.settlement import settle
from genjobs.logic.task_end import end_task
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import LedgerKind, TaskStatus, TimelineEvent, utcnow
from genjobs.models.messages import PlanTasksInput
from tests.support.pipelines import video_steps

# The API's own video example, its script and its speech (at most 5 scenes).
STEPS = video_steps(most=5)[:2]


def _pipeline(deps: Deps, user: str) -> str:
    deps.credits.grant(user, 20, f"grant-{user}", None)
    request = CreateJobRequest.model_validate({"input": {"document": "a\n\nb"}, "steps": STEPS})
    return jobs.create_job(deps, user, request, None).job_id


def test_a_fan_out_is_sized_once_and_its_unused_slots_are_released_under_its_step(deps: Deps) -> None:
    # GIVEN a script whose 2 scenes feed a speech fan-out of at most 5
    job_id = _pipeline(deps, "p1")
    state = PlanTasksInput.model_validate(prepare(deps, job_id).to_wire())
    job = deps.jobs.get(job_id)
    assert job is not None
    script = deps.tasks.get(job_id, 0)
    assert script is not None
    scenes = [{"narration": "one"}, {"narration": "two"}]
    assert end_task(deps, job, script, TaskStatus.COMPLETED, "task.completed", result={"scenes": scenes})
    # WHEN the next round is planned (and planned again: a replay)
    planned = plan_next(deps, state)
    again = plan_next(deps, state)
    # THEN both speeches were planned once, with their scene's text
    manifest = deps.storage.get_json(planned.manifest_key)
    assert [t["taskIndex"] for batch in manifest for t in batch["tasks"]] == [1, 2]
    assert again.task_count == 2  # the replay finds the same two, planned and not yet run
    assert [deps.tasks.get(job_id, i).input for i in (1, 2)] == [{"text": "one"}, {"text": "two"}]  # type: ignore[union-attr]
    job = deps.jobs.get(job_id)
    assert job is not None
    # AND the script's charge and the 3 unused speech slots are on the job, its steps and the ledger
    assert (job.task_count, job.counts.pending, job.counts.completed) == (3, 2, 1)
    assert [(s.size, s.charged, s.refunded) for s in job.step_states] == [(1, 1, 0), (2, 0, 3)]
    released = [e for e in deps.credits.ledger("p1") if e.kind == LedgerKind.RELEASE]
    assert [(e.amount, e.step) for e in released] == [(3, "speech")]
    # AND sizing it again changes nothing
    event = TimelineEvent(jobId=job_id, at=utcnow(), kind="step.sized")
    assert not deps.jobs.resolve_step_size(job, 1, 2, event)
    assert deps.credits.account("p1").reserved == 2


def test_a_settled_pipeline_releases_each_steps_rest_and_balances_every_step(deps: Deps) -> None:
    # GIVEN a pipeline whose script failed, so its fan-out never ran
    job_id = _pipeline(deps, "p2")
    prepare(deps, job_id)
    job = deps.jobs.get(job_id)
    script = deps.tasks.get(job_id, 0)
    assert job is not None
    assert script is not None
    assert end_task(deps, job, script, TaskStatus.FAILED, "task.failed", error="model down")
    # WHEN it settles
    settle(deps, job_id)
    job = deps.jobs.get(job_id)
    assert job is not None
    # THEN every reserved credit is back, each step's counters say so, and the account holds nothing
    assert job.status == "FAILED"
    for summary, state in zip(job.steps, job.step_states, strict=True):
        assert summary.slots * summary.price == state.charged + state.refunded
    assert job.credits.reserved == job.credits.refunded == 6
    assert deps.credits.account("p2").reserved == 0


def test_a_signal_is_kept_once(deps: Deps) -> None:
    deps.credits.grant("p3", 5, "g", None)
    steps = [{"name": "approve", "kind": "signal", "timeoutSeconds": 60}]
    job_id = jobs.create_job(deps, "p3", CreateJobRequest.model_validate({"steps": steps}), None).job_id
    prepare(deps, job_id)
    assert deps.tasks.record_signal(job_id, 0, {"decision": "approve"})
    assert not deps.tasks.record_signal(job_id, 0, {"decision": "reject"})
    task = deps.tasks.get(job_id, 0)
    assert task is not None
    assert task.signal == {"decision": "approve"}
