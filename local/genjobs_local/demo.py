"""`genjobs-local demo`: the product end to end on the embedded stack, as an app would use it.

A wedding-photo batch of 8 images (4 styles x 2 roles) runs on the simulator with a few seconds of
latency each while its progress is shown live; a second job is cancelled half-way and its
settlement shown; the completion push is shown as the phone received it; outputs are saved. Then
two pipelines: the video of a 5-scene document (examples/pipelines/video.yaml, without its approval
step) with a per-step progress view and the render's result, and three parallel stages of images
cancelled part-way with what each stage kept and was charged. Anything not as it should be ends the
demo with a non-zero exit.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import requests
import yaml

from genjobs_cli.render import step_lines
from genjobs_local.paths import REPO_ROOT
from genjobs_local.stack import LocalStack

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
BAR = 30
PIPELINES = REPO_ROOT / "examples" / "pipelines"


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base}{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None


def say(text: str = "") -> None:
    print(text, flush=True)


def check(ok: bool, what: str) -> None:
    """The demo's own assertion: a broken product ends it with a non-zero exit."""
    if not ok:
        raise SystemExit(f"demo failed: {what}")


def bar(job: dict[str, Any]) -> str:
    done = int(BAR * job["progress"] / 100)
    c = job["counts"]
    return (
        f"[{'#' * done}{'.' * (BAR - done)}] {job['progress']:5.1f}%  {job['status']:<10} "
        f"done {c['COMPLETED']} failed {c['FAILED']} cancelled {c['CANCELLED']} running {c['PROCESSING']} "
        f"waiting {c['PENDING']}"
    )


def watch(
    api: Api, job_id: str, *, cancel_at: int | None = None, timeout: float = 300, per_step: bool = False
) -> dict[str, Any]:
    """Until the job ends, its line whenever it changes; `per_step`: also each step's line whenever
    it changes (scene by scene, as a pipeline streams), each after the seconds since watching began."""
    started = time.monotonic()
    deadline = started + timeout
    shown: dict[str, str] = {}
    cancelled = False
    while True:
        job = api.call("GET", f"/jobs/{job_id}")
        lines = [("job", bar(job))]
        if per_step:
            lines += [(line.split()[0], "  " + line.strip()) for line in step_lines(job)]
        for key, line in lines:
            if shown.get(key) != line:
                say(f"  {time.monotonic() - started:5.1f}s {line}" if per_step else f"  {line}")
                shown[key] = line
        if cancel_at is not None and not cancelled and job["counts"]["COMPLETED"] >= cancel_at:
            say(f"  -> cancel requested after {job['counts']['COMPLETED']} images")
            api.call("POST", f"/jobs/{job_id}/cancel")
            cancelled = True
        if job["status"] in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} did not finish in {timeout:.0f}s")
        time.sleep(0.5)


# ---- pipelines -------------------------------------------------------------------------------------
def all_tasks(api: Api, job_id: str) -> list[dict[str, Any]]:
    tasks, cursor = [], None
    while True:
        page = api.call("GET", f"/jobs/{job_id}/tasks", params={"limit": 100, "cursor": cursor})
        tasks += page["items"]
        cursor = page.get("cursor")
        if not cursor:
            return tasks


def credits_balance(job: dict[str, Any]) -> bool:
    credits = job["credits"]
    return bool(credits["charged"] + credits["refunded"] == credits["reserved"])


def video_pipeline(app: Api) -> None:
    say("\n3) A pipeline: a narrated video from a 5-paragraph document (examples/pipelines/video.yaml)")
    say(
        "   script (LLM) -> per scene: speech -> avatar (webhook), background (polled) -> render (app's function)"
    )
    body = yaml.safe_load((PIPELINES / "video.yaml").read_text())
    # Without the approval step: the script goes straight on to speech (the CLI's `signal` answers it).
    body["steps"] = [step for step in body["steps"] if step.get("kind") != "signal"]
    for step in body["steps"]:
        step.pop("after", None)
    job = app.call("POST", "/jobs", json=body)
    plan = job["plan"]
    say(
        f"  POST /jobs -> {len(job['steps'])} steps, at most {plan['taskCount']} tasks: "
        f"{plan['creditsReserved']} credits reserved (each fan-out's most; the unused released once sized)"
    )
    final = watch(app, job["jobId"], per_step=True)
    check(final["status"] == "COMPLETED", f"the video pipeline ended {final['status']}")
    tasks = all_tasks(app, job["jobId"])
    script = next(t for t in tasks if t["step"] == "script")["result"]
    render = next(t for t in tasks if t["step"] == "render")
    result = render["result"] or {}
    check(len(script["scenes"]) == 5, f"the script has {len(script['scenes'])} scenes, not 5")
    check(
        result.get("scenes") == 5 and result.get("order") == [0, 1, 2, 3, 4],
        f"the render received {result.get('scenes')} scenes in the order {result.get('order')}",
    )
    manifest = requests.get(render["outputs"][0]["url"], timeout=30).json()
    say(f"  The render received {result['scenes']} scenes in order {result['order']}:")
    for entry, scene in zip(manifest["scenes"], script["scenes"], strict=True):
        say(
            f"    scene {entry['scene']}: avatar {entry['avatar']['bytes']} B, background "
            f"{entry['background']['bytes']} B  ({scene['visual'][:60]})"
        )
    settled_as(
        final,
        f"  {final['status']}: reserved {{reserved}} = charged {{charged}} + refunded {{refunded}} "
        "(slots never planned and the render's free call)",
    )


def settled_as(final: dict[str, Any], summary: str) -> None:
    """Checks that the job's credits balance and says `summary` with them ({reserved}, {charged},
    {refunded})."""
    credits = final["credits"]
    check(credits_balance(final), f"charged + refunded != reserved: {credits}")
    say(summary.format(**credits))


def stages_cancelled(app: Api) -> None:
    say("\n4) A pipeline of three parallel stages of 20 images (examples/pipelines/stages.json), cancelled")
    body = json.loads((PIPELINES / "stages.json").read_text())
    for step in body["steps"]:
        step["count"] = 20
        step["input"]["sim"] = {"latency": 8}
    body["concurrency"] = 30  # tasks start in step order: stage1 and stage2 at once, then stage3
    job = app.call("POST", "/jobs", json=body)
    say(f"  POST /jobs -> 3 stages x 20 images, {job['plan']['creditsReserved']} credits reserved")
    final = watch(app, job["jobId"], cancel_at=6, per_step=True)
    check(final["status"] == "CANCELLED", f"the stages ended {final['status']}")
    kept: dict[str, int] = {}
    for task in all_tasks(app, job["jobId"]):
        if task["status"] == "COMPLETED":
            check(bool(task["outputs"]), f"{task['step']} image {task['item']} finished but was not kept")
            kept[task["step"]] = kept.get(task["step"], 0) + 1
    for step in final["steps"]:
        done, credits = step["counts"]["COMPLETED"], step["credits"]
        check(
            kept.get(step["name"], 0) == done, f"{step['name']}: {done} done, {kept.get(step['name'])} kept"
        )
        check(credits["charged"] == done * credits["unitPrice"], f"{step['name']} charged {credits}")
        say(
            f"  {step['name']}: kept {done} images, charged {credits['charged']}, "
            f"refunded {credits['refunded']} ({step['counts']['CANCELLED']} cancelled)"
        )
    settled_as(
        final,
        f"  CANCELLED: kept {final['counts']['COMPLETED']} images across the stages, charged {{charged}}, "
        "refunded {refunded} of {reserved} reserved",
    )


def pushes_received(stack: LocalStack) -> list[str]:
    """What SNS delivered to the demo phone's platform endpoint (moto, in this process, keeps them)."""
    from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
    from moto.sns.models import sns_backends

    backend = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    messages: list[str] = []
    for endpoint in backend.platform_endpoints.values():
        messages.extend(str(m) for m in endpoint.messages.values())
    return messages


def save_outputs(job: dict[str, Any], folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    saved = 0
    for task in job["tasks"]:
        for n, output in enumerate(task["outputs"]):
            ext = output["contentType"].rsplit("/", 1)[-1]
            name = f"{task['index']:02d}-{task['input'].get('style', '')}-{task['input'].get('role', '')}-{n}.{ext}"
            (folder / name).write_bytes(requests.get(output["url"], timeout=30).content)
            saved += 1
    return saved


def run(
    *,
    time_scale: float = 0.25,
    outputs_dir: Path = Path("outputs"),
    keep: bool = False,
    state_dir: Path | None = None,
) -> int:
    say("Starting the local genjobs stack (moto, the real template, state machine and handlers)...")
    started = time.monotonic()
    # The demo shows what an app sees; the functions' own logs (JSON lines) would drown it.
    logging.getLogger("moto").setLevel(logging.ERROR)
    with LocalStack.start(time_scale=time_scale) as stack:
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # read by each function at its (cold) start
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        say(f"  API {stack.api_url}  (ready in {time.monotonic() - started:.1f}s)")
        console = f"{stack.console_url}#/signin?user=demo-user"  # signs in as the demo's user
        say(f"  Web console, to watch the demo's jobs live: {console}")
        admin = Api(stack.api_url, stack.mint_token("operator", admin=True))
        user_token = stack.mint_token("demo-user")
        app = Api(stack.api_url, user_token)
        admin.call(
            "POST", "/admin/credits", json={"userId": "demo-user", "amount": 20, "grantId": "demo-welcome"}
        )
        device = app.call("POST", "/devices", json={"platform": "FCM", "token": "demo-phone-fcm-token-0001"})
        say(f"  granted 20 credits to demo-user; registered phone {device['deviceId'][:8]}")

        say("\n1) A wedding album: 4 styles x 2 roles = 8 images, each ~8 s at the provider")
        body = {
            "provider": "simulator",
            "model": "sim-image",
            "collectionId": "album-1",
            "input": {"prompt": "wedding portrait", "sim": {"latency": 8, "progressSteps": 4}},
            "matrix": {
                "style": ["classic", "film", "watercolor", "hanbok"],
                "role": [{"role": "GROOM", "photo": "groom.jpg"}, {"role": "BRIDE", "photo": "bride.jpg"}],
            },
            "concurrency": 4,
        }
        job = app.call("POST", "/jobs", json=body, headers={"Idempotency-Key": "demo-album-1"})
        plan = job["plan"]
        say(
            f"  POST /jobs -> {job['status']} at once: {plan['taskCount']} tasks x {plan['unitPrice']} credit, "
            f"{plan['creditsReserved']} reserved"
        )
        active = app.call("GET", "/jobs?status=active&collectionId=album-1")
        say(f"  (an app coming back finds its active job: {active['items'][0]['jobId'] == job['jobId']})")
        final = watch(app, job["jobId"])
        check(final["status"] == "COMPLETED", f"the album ended {final['status']}")
        saved = save_outputs(final, outputs_dir / final["jobId"])
        check(saved == 8 and final["credits"]["charged"] == 8, f"{saved} images saved, 8 charged")
        say(
            f"  {final['status']}: charged {final['credits']['charged']}, refunded {final['credits']['refunded']}; "
            f"{saved} images saved to {outputs_dir / final['jobId']}"
        )

        say("\n2) A batch of 6 images, cancelled after 2 are done (finished ones are kept and charged)")
        body = {
            "provider": "simulator",
            "model": "sim-image",
            "input": {"prompt": "studio", "sim": {"latency": 8}},
            "tasks": [{"seed": i} for i in range(6)],
            "concurrency": 2,
        }
        job = app.call("POST", "/jobs", json=body)
        final = watch(app, job["jobId"], cancel_at=2)
        c = final["counts"]
        check(final["status"] == "CANCELLED", f"the cancelled batch ended {final['status']}")
        check(c["COMPLETED"] >= 2 and final["credits"]["charged"] == c["COMPLETED"], "kept = charged")
        say(
            f"  {final['status']}: {c['COMPLETED']} kept, {c['CANCELLED']} cancelled, {c['FAILED']} failed; "
            f"charged {final['credits']['charged']}, refunded {final['credits']['refunded']}"
        )

        credits = app.call("GET", "/credits")
        say(
            f"\nCredits now: available {credits['available']}, reserved {credits['reserved']}, "
            f"charged {credits['charged']} (granted {credits['granted']})"
        )
        deadline = time.monotonic() + 20
        while len(pushes_received(stack)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        say("Pushes the phone received:")
        for message in pushes_received(stack):
            say(f"  {message[:200]}")
        timeline = app.call("GET", f"/jobs/{job['jobId']}/events")
        say("Timeline of the cancelled job: " + ", ".join(e["kind"] for e in timeline["items"][:12]) + " ...")

        admin.call(
            "POST", "/admin/credits", json={"userId": "demo-user", "amount": 300, "grantId": "demo-pipelines"}
        )
        video_pipeline(app)
        stages_cancelled(app)
        say(f"\nThe demo took {time.monotonic() - started:.0f}s.")
        if keep:
            from genjobs_local.cli import serve
            from genjobs_local.paths import state_dir_from_env

            say(f"\nThe web console stays open on the demo's jobs: {console}")
            say("The stack keeps running. In another terminal, as the demo's user:")
            say("  uv run genjobs --user demo-user list")
            say(f"  uv run genjobs --user demo-user get {job['jobId']}")
            say(
                "  uv run genjobs --user demo-user create --provider simulator --model sim-image "
                "--matrix style=A,B --count 3 --watch"
            )
            say("  uv run genjobs --user demo-user create --file examples/pipelines/stages.json --watch")
            say("")
            return serve(stack, state_dir or state_dir_from_env(), user="demo-user")
    return 0


if __name__ == "__main__":
    sys.exit(run())
