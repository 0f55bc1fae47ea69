"""The OpenAPI document's request examples are requests the API takes, and what their descriptions
promise (credits reserved and released, what a rejected signal skips) is what happens."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from genjobs.logic import jobs, signals
from genjobs.logic.preparation import plan_next, prepare
from genjobs.logic.task_end import end_task
from genjobs.models.api import CreateJobRequest, SignalRequest
from genjobs.models.domain import TaskStatus
from genjobs.models.messages import PlanTasksInput
from genjobs.routes import examples
from tests.unit.fakes import FakeDeps, fake_deps
from tests.unit.scenario import USER, granted

ROOT = Path(__file__).resolve().parents[2]
RENDER = "arn:aws:lambda:us-east-1:123456789012:function:genjobs-unit-render"


@pytest.fixture
def deps() -> FakeDeps:
    # The deployment lists the app's render function, as the local stack does.
    return fake_deps(APP_FUNCTION_ARNS=RENDER)


def create(deps: FakeDeps, body: dict[str, Any]) -> str:
    return jobs.create_job(deps, USER, CreateJobRequest.model_validate(body), None).job_id


def test_the_document_shows_the_examples_of_job_creation_and_signals() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    create_body = document["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]
    signal_body = document["paths"]["/jobs/{jobId}/signals/{name}"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert set(create_body["examples"]) == {"oneModel", "videoPipeline", "parallelStages"}
    assert create_body["examples"]["videoPipeline"]["value"] == examples.VIDEO_PIPELINE
    assert set(signal_body["examples"]) == {"approve", "reject"}


@pytest.mark.parametrize("name", sorted(examples.CREATE_JOB))
def test_each_job_example_is_created_reserving_what_it_says(deps: FakeDeps, name: str) -> None:
    # GIVEN enough credits for any example
    granted(deps, 500)
    example = examples.CREATE_JOB[name]
    # WHEN the example is created
    job = deps.world.jobs[create(deps, example["value"])]
    # THEN it reserves the credits its description states
    stated = re.search(r"reserves (\d+) credits", example.get("description") or "", re.IGNORECASE)
    assert stated, f"the {name} example says what it reserves"
    assert job.credits.reserved == int(stated.group(1))


def _scenes() -> list[dict[str, Any]]:
    """What the script step returns for the example's document: one scene per paragraph."""
    paragraphs = examples.DOCUMENT.split("\n\n")
    return [{"scene": n + 1, "narration": p, "visual": p.split(".")[0]} for n, p in enumerate(paragraphs)]


def _after_the_script(deps: FakeDeps) -> tuple[str, PlanTasksInput]:
    """The video example created, its script ended with 5 scenes, the next round planned."""
    granted(deps, 500)
    job_id = create(deps, examples.VIDEO_PIPELINE)
    state = PlanTasksInput.model_validate(prepare(deps, job_id).to_wire())
    job, script = deps.world.jobs[job_id], deps.world.tasks[(job_id, 0)]
    assert end_task(deps, job, script, TaskStatus.COMPLETED, "task.completed", result={"scenes": _scenes()})
    plan_next(deps, state)
    return job_id, state


def test_the_video_example_releases_the_slots_of_the_scenes_its_script_does_not_make(deps: FakeDeps) -> None:
    # WHEN the script of the video example makes 5 scenes of the 10 reserved
    job_id, _ = _after_the_script(deps)
    # THEN 5 slots of speech, avatar and background are released, as the example says
    job = deps.world.jobs[job_id]
    said = re.search(r"\(5 scenes: (\d+)\)", examples.CREATE_JOB["videoPipeline"].get("description") or "")
    assert said
    assert job.credits.refunded == int(said.group(1)) == 5 * (1 + 5 + 3)
    # AND nothing of the video runs before the approval: the next round is the signal alone
    approve = job.steps[1]
    assert [s.size for s in job.step_states] == [1, 1, 5, 5, 5, 1]
    planned = [t.index for t in deps.world.tasks.values() if t.planned_at and t.job_id == job_id]
    assert planned == [0, approve.base]


def test_the_rejected_signal_example_skips_every_step_after_it_and_charges_only_the_script(
    deps: FakeDeps,
) -> None:
    # GIVEN the video example waiting for its approval
    job_id, state = _after_the_script(deps)
    approve = deps.world.jobs[job_id].steps[1]
    # WHEN the app sends the reject example and the signal step is reached
    reject = SignalRequest.model_validate(examples.SIGNAL["reject"]["value"])
    signals.send(deps, USER, job_id, "approve", reject.model_dump(mode="json", exclude_none=True))
    job, task = deps.world.jobs[job_id].for_task(approve.base), deps.world.tasks[(job_id, approve.base)]
    signals.await_signal(deps, job, task, "token")
    last = plan_next(deps, state)
    # THEN the signal step failed, speech, avatar, background and render are SKIPPED, the job is done
    assert deps.world.tasks[(job_id, approve.base)].status == TaskStatus.FAILED
    assert last.done
    job = deps.world.jobs[job_id]
    assert job.counts.skipped == 5 + 5 + 5 + 1
    # AND only the script is charged; everything else reserved is refunded
    assert job.credits.charged == 1
    assert job.credits.refunded == job.credits.reserved - 1


def test_the_approve_example_is_a_signal_the_api_takes() -> None:
    approve = SignalRequest.model_validate(examples.SIGNAL["approve"]["value"])
    assert approve.decision == "approve"
    assert approve.data == {"approvedBy": "editor-7"}
