"""Pipelines on the embedded stack: seed 004's video from a document (a script, then per scene speech
-> avatar and a background, then one render over every scene in order, by the app's own function) and
seed 002's parallel stages, with what a user relies on: every step's outputs, SKIPPED dependents of
what failed, signals, cancel across steps, and exact credits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from genjobs_local.sim_outputs import made_from
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_stats, wait_for
from tests.support.pipelines import named, video_steps

pytestmark = [pytest.mark.e2e]

DOCUMENT = "\n\n".join(f"Scene {i} opens on the harbour. Light falls on boat {i}." for i in range(3))
# The API's own video example (each fan-out at most 4 scenes), with the avatars and backgrounds
# taking their time at the simulated provider.
LATENCIES = {"avatar": {"latency": 30}, "background": {"latency": 40}}
VIDEO = video_steps(most=4, sim=LATENCIES)
SCRIPT, SPEECH, AVATAR, RENDER = (named(VIDEO, n) for n in ("script", "speech", "avatar", "render"))
# script 1 + speech 4 x 1 + avatar 4 x 5 + background 4 x 3 + render 0
VIDEO_RESERVED = 1 + 4 + 20 + 12


def pipeline(steps: list[dict[str, Any]], **job_input: Any) -> dict[str, Any]:
    return {"input": {"document": DOCUMENT, **job_input}, "steps": steps}


def tasks_of(app: Client, job_id: str) -> list[dict[str, Any]]:
    return list(app.get(f"/jobs/{job_id}/tasks?limit=100").json()["items"])


def by_step(tasks: list[dict[str, Any]], step: str) -> list[dict[str, Any]]:
    return sorted((t for t in tasks if t["step"] == step), key=lambda t: t["item"])


def download(task: dict[str, Any]) -> bytes:
    response = requests.get(task["outputs"][0]["url"], timeout=10)
    assert response.status_code == 200, response.text
    return response.content


def steps_of(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in job["steps"]}


def assert_credits_exact(app: Client, job: dict[str, Any]) -> None:
    """Every step's reserved credits are charged or refunded, and the account holds nothing back."""
    for step in job["steps"]:
        credits = step["credits"]
        assert credits["reserved"] == credits["charged"] + credits["refunded"], step
        assert credits["charged"] == step["counts"]["COMPLETED"] * credits["unitPrice"], step
    assert job["credits"]["reserved"] == job["credits"]["charged"] + job["credits"]["refunded"]
    assert job["credits"]["charged"] == sum(s["credits"]["charged"] for s in job["steps"])
    account = app.credits()
    assert account["reserved"] == 0
    assert account["granted"] == account["available"] + account["charged"]


def test_the_video_pipeline_renders_every_scene_in_order_and_charges_each_step_exactly(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a 3-scene document and the video pipeline (a fan-out of at most 4 scenes)
    created = app.post("/jobs", json=pipeline(VIDEO))
    assert created.status_code == 202, created.text
    assert created.json()["credits"]["reserved"] == VIDEO_RESERVED
    # WHEN it runs
    job = app.wait(created.json()["jobId"], timeout=60)
    # THEN it completed: 1 script, 3 speeches, 3 avatars, 3 backgrounds, 1 render
    assert job["status"] == "COMPLETED", job
    steps = steps_of(job)
    assert {name: s["size"] for name, s in steps.items()} == {
        "script": 1,
        "speech": 3,
        "avatar": 3,
        "background": 3,
        "render": 1,
    }
    assert job["counts"]["COMPLETED"] == 11
    assert [s["final"] for s in job["steps"]] == [False, False, False, False, True]
    tasks = tasks_of(app, job["jobId"])
    # AND scene i's avatar was made from scene i's speech
    for speech, avatar in zip(by_step(tasks, "speech"), by_step(tasks, "avatar"), strict=True):
        assert (
            made_from(download(avatar))["input"]["audio"]
            .split("?")[0]
            .endswith(speech["outputs"][0]["url"].split("?")[0].split("/outputs/")[-1])
        )
    # AND the render received every scene's avatar and background, in scene order
    (render,) = by_step(tasks, "render")
    manifest = json.loads(download(render))
    import hashlib

    expected = [
        {part: hashlib.sha256(download(t)).hexdigest() for part, t in (("avatar", a), ("background", b))}
        for a, b in zip(by_step(tasks, "avatar"), by_step(tasks, "background"), strict=True)
    ]
    assert [{p: s[p]["sha256"] for p in ("avatar", "background")} for s in manifest["scenes"]] == expected
    assert render["result"]["order"] == [0, 1, 2]
    # AND the unused fan-out slot (4th scene) of speech, avatar and background was released
    assert job["credits"]["charged"] == 1 + 3 * 1 + 3 * 5 + 3 * 3
    assert job["credits"]["refunded"] == 1 + 5 + 3
    assert_credits_exact(app, job)
    # AND the timeline says when each fan-out was sized, and that each scene's avatar followed its
    # speech, each event naming its step
    events = app.events(job["jobId"])
    kinds = [e["kind"] for e in events]
    assert kinds.count("step.sized") == 3
    assert [e["step"] for e in events if e["kind"] == "task.chained"] == ["avatar"] * 3
    # AND one step's tasks are listed alone, in item order
    listed = app.get(f"/jobs/{job['jobId']}/tasks?step=background").json()["items"]
    assert [(t["step"], t["item"]) for t in listed] == [("background", i) for i in range(3)]
    assert app.get(f"/jobs/{job['jobId']}/tasks?step=nothing").status_code == 422


def test_a_failed_scene_skips_only_its_own_chain_and_the_render_goes_on_with_the_rest(app: Client) -> None:
    # GIVEN three scenes whose second speech fails, and a render that proceeds with what succeeded
    speech = {
        "name": "speech",
        "kind": "sync",
        "provider": "simulator",
        "model": "sim-tts",
        "tasks": [{"text": "a"}, {"text": "b", "sim": {"fail": "voice unavailable"}}, {"text": "c"}],
    }
    avatar = {**AVATAR, "input": {"audio": "${item.outputs[0].url}", "sim": {"latency": 5}}}
    render = {
        **RENDER,
        "overAll": {"steps": ["avatar"], "needs": "succeeded"},
        "input": {"avatars": "${steps.avatar.outputs}", "backgrounds": "${steps.avatar.outputs}"},
    }
    # WHEN it runs
    job = app.wait(app.create(pipeline([speech, avatar, render]))["jobId"], timeout=60)
    # THEN scene 1's avatar is SKIPPED (never submitted, not charged), the other scenes went on
    assert job["status"] == "COMPLETED", job
    tasks = tasks_of(app, job["jobId"])
    assert [t["status"] for t in by_step(tasks, "speech")] == ["COMPLETED", "FAILED", "COMPLETED"]
    avatars = by_step(tasks, "avatar")
    assert [t["status"] for t in avatars] == ["COMPLETED", "SKIPPED", "COMPLETED"]
    assert avatars[1]["providerId"] is None
    assert "speech" in avatars[1]["error"]
    (rendered,) = by_step(tasks, "render")
    assert rendered["status"] == "COMPLETED"
    assert rendered["result"]["scenes"] == 2
    assert job["counts"]["SKIPPED"] == 1
    assert job["credits"]["charged"] == 2 * 1 + 2 * 5
    assert_credits_exact(app, job)


def _waiting(app: Client, job_id: str, step: str) -> bool:
    return any(t["step"] == step and t["status"] == "PROCESSING" for t in tasks_of(app, job_id))


def awaiting_approval(app: Client) -> str:
    """The video pipeline, its script made and its approval step waiting (up to an hour)."""
    job_id = str(app.create(pipeline(video_steps(approve=True, most=4, sim=LATENCIES)))["jobId"])
    wait_for(lambda: _waiting(app, job_id, "approve"), what="the approval step waiting")
    return job_id


def test_the_script_is_approved_by_a_signal_before_anything_is_spent_on_video(
    stack: LocalStack, app: Client, make_user: Callable[..., Client]
) -> None:
    # GIVEN the video pipeline whose speech and backgrounds wait for the app to approve the script
    job_id = awaiting_approval(app)
    # THEN another user cannot answer it: the job does not exist for them
    assert make_user(0).post(f"/jobs/{job_id}/signals/approve", json={}).status_code == 404
    # THEN while it waits no video was asked of any provider
    before = sim_stats(stack)["creates_per_key"]
    assert not [k for k in before if k.startswith(job_id) and not k.endswith(":0")]
    # WHEN the app approves (a second signal is refused: the step has its answer)
    approved = app.post(
        f"/jobs/{job_id}/signals/approve", json={"decision": "approve", "data": {"by": "editor"}}
    )
    assert approved.status_code == 202, approved.text
    again = app.post(f"/jobs/{job_id}/signals/approve", json={"decision": "approve"})
    assert again.status_code == 409, again.text
    job = app.wait(job_id, timeout=60)
    # THEN the video was made
    assert job["status"] == "COMPLETED", job
    assert steps_of(job)["render"]["counts"]["COMPLETED"] == 1
    (approval,) = by_step(tasks_of(app, job_id), "approve")
    assert approval["result"] == {"by": "editor"}
    assert_credits_exact(app, job)


def test_a_signal_nobody_sends_times_out_and_what_waits_for_it_is_skipped_and_refunded(app: Client) -> None:
    # GIVEN an approval that fails after 120 s (2.4 wall seconds) with nobody answering it, which the
    # speeches wait for (the backgrounds do not)
    steps = video_steps(approve=True, most=4, sim=LATENCIES)
    named(steps, "approve").update(timeoutSeconds=120, onTimeout="fail")
    named(steps, "background").pop("after")
    # WHEN it runs
    job = app.wait(app.create(pipeline(steps))["jobId"], timeout=60)
    # THEN the approval failed as timed out; speech, avatars and the render were skipped and refunded;
    # the backgrounds, which do not wait for it, were made and charged
    tasks = tasks_of(app, job["jobId"])
    (approval,) = by_step(tasks, "approve")
    assert approval["status"] == "FAILED"
    assert approval["error"].startswith("signal.timeout")
    # (the job FAILED: its last step, the render, made nothing)
    assert job["status"] == "FAILED"
    steps = steps_of(job)
    assert steps["speech"]["counts"]["SKIPPED"] == 3
    assert steps["avatar"]["counts"]["SKIPPED"] == 3
    assert steps["render"]["counts"]["SKIPPED"] == 1
    assert steps["background"]["counts"]["COMPLETED"] == 3
    assert job["credits"]["charged"] == 1 + 3 * 3
    assert_credits_exact(app, job)
    # AND a late signal is refused
    late = app.post(f"/jobs/{job['jobId']}/signals/approve", json={})
    assert late.status_code == 409


def test_a_cancel_ends_a_waiting_signal_at_once_and_refunds_what_waited_for_it(app: Client) -> None:
    # GIVEN the video pipeline waiting (up to an hour) for its script's approval
    job_id = awaiting_approval(app)
    # WHEN the user cancels
    assert app.post(f"/jobs/{job_id}/cancel").status_code == 202
    # THEN the wait ends now (not at its timeout), the script is kept and charged, the rest refunded
    job = app.wait(job_id, timeout=30)
    assert job["status"] == "CANCELLED"
    (approval,) = by_step(tasks_of(app, job_id), "approve")
    assert approval["status"] == "CANCELLED"
    assert job["credits"]["charged"] == 1
    assert_credits_exact(app, job)


def stage(n: int, count: int, latency: float) -> dict[str, Any]:
    return {
        "name": f"stage{n}",
        "provider": "simulator",
        "model": "sim-image",
        "count": count,
        "input": {"prompt": "${input.prompt}", "stage": n, "sim": {"latency": latency}},
    }


def test_three_stages_run_at_the_same_time_and_the_totals_span_them(app: Client) -> None:
    # GIVEN seed 002's three stages of images, independent of each other
    body = {"input": {"prompt": "a cat"}, "steps": [stage(n, 4, 150) for n in (1, 2, 3)], "concurrency": 12}
    # WHEN the job runs
    job = app.wait(app.create(body)["jobId"], timeout=60)
    # THEN every stage made its images, the job's counts add them up
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 12
    assert [s["counts"]["COMPLETED"] for s in job["steps"]] == [4, 4, 4]
    # AND the stages ran side by side: each stage had begun before any image of any stage ended
    tasks = tasks_of(app, job["jobId"])
    first_end = min(t["finishedAt"] for t in tasks)
    for n in (1, 2, 3):
        assert min(t["submittedAt"] for t in tasks if t["step"] == f"stage{n}") < first_end
    assert [t["input"]["stage"] for t in tasks] == [1] * 4 + [2] * 4 + [3] * 4
    assert_credits_exact(app, job)


def test_a_cancel_stops_every_stage_keeps_and_charges_what_finished(stack: LocalStack, app: Client) -> None:
    # GIVEN three stages of 4 images where each stage's images take long, then a step after them
    steps = [
        {**stage(n, 4, 600), "input": {"prompt": "${input.prompt}", "stage": n, "sim": {"latency": 600}}}
        for n in (1, 2, 3)
    ]
    steps[0]["tasks"] = [{"sim": {"latency": 5}}, {}, {}, {}]  # stage 1's first image is quick
    steps[0].pop("count")
    after = {
        "name": "upscale",
        "provider": "simulator",
        "model": "sim-image",
        "forEach": {"step": "stage1"},
        "input": {"image": "${item.outputs[0].url}"},
    }
    job_id = app.create({"input": {"prompt": "a cat"}, "steps": [*steps, after], "concurrency": 12})["jobId"]
    wait_for(lambda: app.job(job_id)["counts"]["COMPLETED"] >= 1, what="the first image")
    # WHEN the user cancels part-way
    cancelled = app.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    job = app.wait(job_id, timeout=60)
    # THEN the job is CANCELLED, the finished image is kept and charged, nothing else is
    assert job["status"] == "CANCELLED", job
    assert job["counts"]["COMPLETED"] >= 1
    tasks = tasks_of(app, job_id)
    kept = [t for t in tasks if t["status"] == "COMPLETED"]
    assert all(t["outputs"] for t in kept)
    assert {t["status"] for t in tasks} <= {"COMPLETED", "CANCELLED"}
    # AND nothing new was submitted after the cancel (the upscales never started)
    assert all(t["providerId"] is None for t in tasks if t["step"] == "upscale")
    assert_credits_exact(app, job)
    # (each image that was submitted, once; those the cancel reached first never were)
    created = {k for k in sim_stats(stack)["creates_per_key"] if k.startswith(job_id)}
    assert created == {f"{job_id}:{t['index']}" for t in tasks if t["providerId"]}


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([{**SCRIPT, "after": ["speech"]}, {**SPEECH}], "steps.0.after"),
        ([SCRIPT, {**SPEECH, "forEach": {"step": "script"}}], "steps.1.forEach.max"),
        ([{**SCRIPT, "input": {"prompt": "${input.nothing}"}}], "steps.0.input.prompt"),
        ([{**SCRIPT, "kind": "teleport"}], "steps.0.kind"),
        ([{**SCRIPT, "model": "sim-unknown"}], "steps.0.model"),
        ([{**RENDER, "function": "not-listed", "overAll": None}], "steps.0.function"),
    ],
)
def test_a_bad_pipeline_is_refused_naming_the_step_and_the_field_and_changes_nothing(
    app: Client, steps: list[dict[str, Any]], field: str
) -> None:
    before = app.credits()
    steps = [{k: v for k, v in s.items() if v is not None} for s in steps]
    response = app.post("/jobs", json=pipeline(steps))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert app.credits() == before
    assert app.get("/jobs").json()["items"] == []
