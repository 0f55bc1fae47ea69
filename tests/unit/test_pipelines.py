"""Pipelines against the in-memory fakes: what a pipeline is refused for, what it reserves, and how
its tasks are planned, chained, sized and skipped from what has ended."""

from __future__ import annotations

from typing import Any

import pytest

from genjobs.logic import jobs, scheduler
from genjobs.logic.errors import InvalidRequest
from genjobs.logic.preparation import plan_next, prepare
from genjobs.logic.task_end import end_task
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import TaskStatus
from genjobs.models.messages import PlanTasksInput
from tests.support.pipelines import named, video_steps
from tests.unit.fakes import FakeDeps
from tests.unit.scenario import USER, granted

# The API's own video example: script, speech (at most 5 scenes), avatar, background; no render.
VIDEO = video_steps(most=5, render=False)
SCRIPT, SPEECH = named(VIDEO, "script"), named(VIDEO, "speech")


def create(deps: FakeDeps, steps: list[dict[str, Any]], **job_input: Any) -> str:
    request = CreateJobRequest.model_validate(
        {"input": {"document": "a\n\nb\n\nc", **job_input}, "steps": steps}
    )
    return jobs.create_job(deps, USER, request, None).job_id


def refusal(deps: FakeDeps, steps: list[dict[str, Any]]) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as refused:
        create(deps, steps)
    assert not deps.world.jobs, "a refused pipeline creates nothing"
    assert deps.credits.account(USER).reserved == 0, "and reserves nothing"
    return refused.value.errors[0]


def test_a_video_pipeline_reserves_every_step_at_its_most(deps: FakeDeps) -> None:
    # GIVEN 60 credits
    granted(deps, 60)
    # WHEN the video pipeline is created: script 1 + speech 5x1 + avatar 5x5 + background 5x3
    job = deps.world.jobs[create(deps, VIDEO)]
    # THEN each fan-out reserves its max, and the job plans that many tasks until the script is known
    assert job.credits.reserved == 1 + 5 + 25 + 15
    assert job.task_count == 16
    assert [(s.name, s.base, s.slots, s.price) for s in job.steps] == [
        ("script", 0, 1, 1),
        ("speech", 1, 5, 1),
        ("avatar", 6, 5, 5),
        ("background", 11, 5, 3),
    ]
    assert [s.final for s in job.steps] == [False, False, True, True]


@pytest.mark.parametrize(
    ("steps", "field", "says"),
    [
        (
            [{**SCRIPT, "after": ["speech"]}, SPEECH],
            "steps.0.after",
            "cycle",
        ),
        (
            [SCRIPT, {**SPEECH, "forEach": {"step": "scrpt", "max": 5}}],
            "steps.1.forEach.step",
            "no step is named 'scrpt'",
        ),
        ([SCRIPT, {**SPEECH, "forEach": {"step": "script"}}], "steps.1.forEach.max", "give their most"),
        (
            [{**SCRIPT, "input": {"prompt": "${input.missing}"}}],
            "steps.0.input.prompt",
            "finds nothing in the job's input",
        ),
        (
            [SCRIPT, {**SPEECH, "input": {"text": "${steps.avatar.outputs}"}}],
            "steps.1.input.text",
            "does not depend on",
        ),
        (
            [{**SCRIPT, "input": {"prompt": "${item.x}"}}],
            "steps.0.input.prompt",
            "only a forEach step has an item",
        ),
        ([{**SCRIPT, "model": "sim-nope"}], "steps.0.model", "unknown model 'sim-nope'"),
        ([{**SCRIPT, "provider": "nope"}], "steps.0.provider", "unknown provider 'nope'"),
        ([{**SCRIPT, "kind": "async"}], "steps.0.kind", "answers synchronously"),
        ([SCRIPT, {**SCRIPT}], "steps.1.name", "name of step 0 too"),
        ([{"name": "approve", "kind": "signal"}], "steps.0.timeoutSeconds", "how long it waits"),
        ([{"name": "render", "kind": "lambda", "function": "nope"}], "steps.0.function", "AppFunctionArns"),
        ([{**SCRIPT, "name": f"s{i}"} for i in range(21)], "steps", "over the limit of 20"),
    ],
)
def test_a_bad_pipeline_is_refused_naming_the_step_and_field(
    deps: FakeDeps, steps: list[dict[str, Any]], field: str, says: str
) -> None:
    granted(deps, 100)
    error = refusal(deps, steps)
    assert error["field"] == field
    assert says in error["reason"]


def _state(deps: FakeDeps, job_id: str) -> PlanTasksInput:
    return PlanTasksInput.model_validate(prepare(deps, job_id).to_wire())


def _end(
    deps: FakeDeps, job_id: str, index: int, to: TaskStatus = TaskStatus.COMPLETED, **fields: Any
) -> None:
    job = deps.world.jobs[job_id]
    task = deps.world.tasks[(job_id, index)]
    if task.status == TaskStatus.PENDING and to == TaskStatus.COMPLETED:
        fields.setdefault("outputs", [{"key": f"outputs/{index}.bin", "contentType": "audio/wav", "size": 4}])
    assert end_task(deps, job, task, to, f"task.{to.value.lower()}", **fields)


def test_a_fan_out_is_sized_by_its_items_and_releases_the_slots_it_does_not_use(deps: FakeDeps) -> None:
    # GIVEN the video pipeline, prepared: only the script can run
    granted(deps, 60)
    job_id = create(deps, VIDEO)
    state = _state(deps, job_id)
    assert deps.storage.get_json(state.manifest_key) == [
        {"jobId": job_id, "width": 1, "tasks": [{"taskIndex": 0, "firstCheckSeconds": 0}]}
    ]
    assert state.more_rounds  # its other steps wait for the script
    # WHEN the script ends with 3 scenes and the round after it is planned
    scenes = [{"narration": f"line {i}", "visual": f"view {i}"} for i in range(3)]
    _end(deps, job_id, 0, result={"scenes": scenes})
    planned = plan_next(deps, state)
    # THEN speech and background run for each of the 3 scenes, from each scene's fields, scene by scene
    assert not planned.done
    manifest = [t["taskIndex"] for b in deps.storage.get_json(planned.manifest_key) for t in b["tasks"]]
    assert manifest == [1, 11, 2, 12, 3, 13]
    assert planned.more_rounds  # the avatars wait for the speech
    assert deps.world.tasks[(job_id, 2)].input == {"text": "line 1"}
    assert deps.world.tasks[(job_id, 13)].input == {"prompt": "view 2"}
    # AND the 2 scene slots of each fan-out never planned are released: speech 2x1, avatar 2x5, background 2x3
    job = deps.world.jobs[job_id]
    assert [s.size for s in job.step_states] == [1, 3, 3, 3]
    assert job.task_count == 10
    assert job.credits.refunded == 2 + 10 + 6


def test_a_scene_hands_its_child_on_to_its_avatar_once_its_speech_is_kept(deps: FakeDeps) -> None:
    granted(deps, 60)
    job_id = create(deps, VIDEO)
    state = _state(deps, job_id)
    _end(deps, job_id, 0, result={"scenes": [{"narration": "n", "visual": "v"}] * 2})
    plan_next(deps, state)
    # WHEN scene 1's speech is kept
    _end(deps, job_id, 2)
    job = deps.world.jobs[job_id]
    following = scheduler.continue_chain(deps, job, deps.world.tasks[(job_id, 2)])
    # THEN scene 1's avatar (index 6 + 1) is claimed for the same child, its audio the speech's output
    assert following == 7
    assert deps.world.tasks[(job_id, 7)].input == {
        "audio": "https://outputs.example/outputs/2.bin?expires=21600"
    }
    # AND nothing else claims it again
    assert scheduler.continue_chain(deps, job, deps.world.tasks[(job_id, 2)]) is None


def test_a_failed_scene_skips_only_what_depends_on_it_and_charges_nothing_for_it(deps: FakeDeps) -> None:
    # GIVEN a render over every scene's avatar that needs all of them, after 2 scenes were planned
    granted(deps, 60)
    render = {
        "name": "render",
        "kind": "sync",
        "provider": "simulator",
        "model": "sim-llm",
        "overAll": {"steps": ["avatar", "background"]},
        "input": {"avatars": "${steps.avatar.outputs}"},
    }
    job_id = create(deps, [*VIDEO, render])
    state = _state(deps, job_id)
    _end(deps, job_id, 0, result={"scenes": [{"narration": "n", "visual": "v"}] * 2})
    plan_next(deps, state)
    # WHEN scene 0's speech fails, scene 1's chain and both backgrounds complete
    _end(deps, job_id, 1, TaskStatus.FAILED, error="tts down")
    for index in (2, 11, 12):
        _end(deps, job_id, index)
    plan_next(deps, state)
    _end(deps, job_id, 7)
    last = plan_next(deps, state)
    # THEN scene 0's avatar is SKIPPED and refunded, scene 1's ran, and the render (needs all) is SKIPPED
    tasks = deps.world.tasks
    assert tasks[(job_id, 6)].status == TaskStatus.SKIPPED
    assert tasks[(job_id, 7)].status == TaskStatus.COMPLETED
    assert tasks[(job_id, 16)].status == TaskStatus.SKIPPED
    assert last.done
    job = deps.world.jobs[job_id]
    assert job.counts.skipped == 2
    # charged: script 1 + speech 1 + avatar 5 + backgrounds 2x3; everything else released
    assert job.credits.charged == 1 + 1 + 5 + 6
    assert job.credits.charged + job.credits.refunded == job.credits.reserved - job.credits.outstanding


def test_twenty_steps_of_a_thousand_items_are_accepted(deps: FakeDeps) -> None:
    # GIVEN credits for 20,000 tasks
    granted(deps, 20_000)
    first = {"name": "s0", "provider": "simulator", "model": "sim-image", "count": 1000}
    chained = [
        {"name": f"s{n}", "provider": "simulator", "model": "sim-image", "forEach": {"step": f"s{n - 1}"}}
        for n in range(1, 20)
    ]
    # WHEN a pipeline of 20 steps of 1,000 items each is created
    job = deps.world.jobs[create(deps, [first, *chained])]
    # THEN it is planned whole
    assert job.task_count == 20_000
    assert job.credits.reserved == 20_000


def test_a_script_too_big_to_keep_on_its_task_is_split_from_its_stored_output(deps: FakeDeps) -> None:
    # GIVEN the script ended with 3 scenes in a JSON output too big to keep as its task's result
    granted(deps, 60)
    job_id = create(deps, VIDEO)
    state = _state(deps, job_id)
    deps.storage.put_json(
        "outputs/script.json", {"scenes": [{"narration": f"n{i}", "visual": "v"} for i in range(3)]}
    )
    _end(
        deps,
        job_id,
        0,
        outputs=[{"key": "outputs/script.json", "contentType": "application/json", "size": 99}],
    )
    # WHEN the next round is planned
    plan_next(deps, state)
    # THEN its 3 scenes were read back from the output
    assert [s.size for s in deps.world.jobs[job_id].step_states] == [1, 3, 3, 3]
    assert deps.world.tasks[(job_id, 3)].input == {"text": "n2"}


def test_an_input_too_big_for_a_task_fails_that_task_saying_so(
    deps: FakeDeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a pipeline whose task items then hold inputs of at most 10 bytes
    granted(deps, 60)
    job_id = create(deps, VIDEO)
    state = _state(deps, job_id)
    monkeypatch.setattr(scheduler.stored, "MAX_TASK_INPUT_BYTES", 10)
    # WHEN the script's scenes would make speech inputs of more than that
    _end(deps, job_id, 0, result={"scenes": [{"narration": "a long narration line", "visual": "v"}]})
    plan_next(deps, state)
    # THEN the speech fails, refunded, and says why (its dependents are skipped)
    speech = deps.world.tasks[(job_id, 1)]
    assert speech.status == TaskStatus.FAILED
    assert speech.error is not None
    assert "a task's input holds at most 10" in speech.error
