"""The pipelines scenario's requests and critical paths on tiny inputs (the bench itself is not run here)."""

from __future__ import annotations

import pytest
from bench.scenarios import pipelines

from genjobs.logic import templates
from genjobs.models.pipeline import StepRequest

pytestmark = [pytest.mark.unit]


def test_only_the_last_scene_gets_the_slow_background() -> None:
    # GIVEN seed 004's pipeline of 5 scenes as the scenario sends it
    background = next(s for s in pipelines.seed004(5, streamed=True)["steps"] if s["name"] == "background")
    # WHEN the background's input is rendered for each scene
    latencies = [
        templates.render(background["input"], {"item": {"visual": "v"}, "index": i})["sim"]["latency"]
        for i in range(5)
    ]
    # THEN scenes 1-4 take the normal latency and scene 5 the slow one, as numbers
    assert latencies == [90, 90, 90, 90, 240]


def test_step_by_step_differs_from_streamed_only_by_avatar_waiting_for_every_speech() -> None:
    streamed, stepwise = pipelines.seed004(5, streamed=True), pipelines.seed004(5, streamed=False)
    # THEN both are valid steps, and only avatar differs, by `after`
    for body in (streamed, stepwise):
        for step in body["steps"]:
            StepRequest.model_validate(step)
    changed = [a["name"] for a, b in zip(streamed["steps"], stepwise["steps"], strict=True) if a != b]
    assert changed == ["avatar"]
    assert next(s for s in stepwise["steps"] if s["name"] == "avatar")["after"] == ["speech"]


def test_a_chained_pipeline_has_its_steps_each_over_the_one_before() -> None:
    body = pipelines.chained(items=7, steps=20, webhook_every=5)
    steps = body["steps"]
    assert len(steps) == 20
    assert steps[0]["count"] == 7
    assert [s["forEach"]["step"] for s in steps[1:]] == [s["name"] for s in steps[:-1]]
    webhook = [s["name"] for s in steps if s.get("model") == "sim-image-webhook"]
    assert webhook == ["s05", "s10", "s15", "s20"]


def test_critical_path_is_the_longest_provider_chain() -> None:
    # GIVEN script 5, speech 3 + avatar 60 per scene, backgrounds 90 and one 240, render 0
    path = pipelines.critical_path(5)
    # THEN streamed: script + the slow background; step by step: plus the avatar after it
    assert path["provider_s"] == 5 + 240
    assert path["with_polls_s"] >= path["provider_s"]
    assert path["step_by_step_s"] == pytest.approx(path["with_polls_s"] + 60)


def test_the_unchained_shape_waits_for_each_whole_step_and_the_overall_shape_ends_over_every_output() -> None:
    # GIVEN the two other shapes of the limits runs
    after = pipelines.chained(items=3, steps=4, webhook_every=5, shape="after")["steps"]
    overall = pipelines.chained(items=3, steps=1, webhook_every=5, shape="overall")["steps"]
    # THEN each forEach step also waits for the whole step before it (so nothing chains) ...
    assert [s.get("after") for s in after[1:]] == [["s01"], ["s02"], ["s03"]]
    # ... and the overall shape's last step takes every output of the fan-out
    assert overall[-1]["overAll"] == {"steps": ["s01"]}
    assert overall[-1]["input"]["files"] == "${steps.s01.outputs}"
    for step in [*after, *overall]:
        StepRequest.model_validate(step)


def test_the_parallel_stages_are_seed_002_with_every_image_in_flight_at_once() -> None:
    # GIVEN the parallel stages as the scenario sends them, 4 images a stage of 20 s
    body = pipelines.stages_body(4, 20)
    # THEN three independent stages of 4 images each, all 12 allowed to run at once, at that latency
    assert [(s["name"], s["count"], s.get("after")) for s in body["steps"]] == [
        ("stage1", 4, None),
        ("stage2", 4, None),
        ("stage3", 4, None),
    ]
    assert body["concurrency"] == 12
    # ... and seed 002's 3 x 50 runs as many at once as a job may have
    assert pipelines.stages_body(50, 20)["concurrency"] == 100
    assert {s["input"]["sim"]["latency"] for s in body["steps"]} == {20}
    for step in body["steps"]:
        StepRequest.model_validate(step)


def test_the_video_pipeline_is_priced_per_scene_and_the_stages_per_image() -> None:
    from bench import report_pipelines

    # GIVEN a 5-scene video job of 50 transitions and 150 stage images of 300 transitions, each metered whole
    run = {"job_status": "COMPLETED", "usage": {"state_transitions": 50.0}}
    result = {
        "makespan": {"scenes": 5, "streamed": {"runs": [run]}},
        "stages": {
            "images": 150,
            "latency_s": 20,
            "job_status": "COMPLETED",
            "usage": {"state_transitions": 300.0},
        },
    }
    # WHEN the cost table is rendered
    lines = report_pipelines._costs(result)
    # THEN per 1,000: 10 transitions a scene ($0.25) and 2 an image ($0.05)
    assert "| state_transitions | $0.2500 | $0.0500 |" in lines
