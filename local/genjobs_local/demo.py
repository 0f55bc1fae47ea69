"""`genjobs-local demo`: the product end to end on the embedded stack, as an app would use it.

A wedding-photo batch of 8 images (4 styles x 2 roles) runs on the simulator with a few seconds of
latency each while its progress is shown live; a second job is cancelled half-way and its
settlement shown; the completion push is shown as the phone received it; outputs are saved.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import requests

from genjobs_local.stack import LocalStack

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
BAR = 30


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


def bar(job: dict[str, Any]) -> str:
    done = int(BAR * job["progress"] / 100)
    c = job["counts"]
    return (
        f"[{'#' * done}{'.' * (BAR - done)}] {job['progress']:5.1f}%  {job['status']:<10} "
        f"done {c['COMPLETED']} failed {c['FAILED']} cancelled {c['CANCELLED']} running {c['PROCESSING']} "
        f"waiting {c['PENDING']}"
    )


def watch(api: Api, job_id: str, *, cancel_at: int | None = None, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    cancelled = False
    while True:
        job = api.call("GET", f"/jobs/{job_id}")
        line = bar(job)
        if line != last:
            say("  " + line)
            last = line
        if cancel_at is not None and not cancelled and job["counts"]["COMPLETED"] >= cancel_at:
            say(f"  -> cancel requested after {job['counts']['COMPLETED']} images")
            api.call("POST", f"/jobs/{job_id}/cancel")
            cancelled = True
        if job["status"] in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job_id} did not finish in {timeout:.0f}s")
        time.sleep(0.5)


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
        saved = save_outputs(final, outputs_dir / final["jobId"])
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
        if keep:
            from genjobs_local.cli import serve
            from genjobs_local.paths import state_dir_from_env

            say("\nThe stack keeps running. In another terminal, as the demo's user:")
            say("  uv run genjobs --user demo-user list")
            say(f"  uv run genjobs --user demo-user get {job['jobId']}")
            say(
                "  uv run genjobs --user demo-user create --provider simulator --model sim-image "
                "--matrix style=A,B --count 3 --watch"
            )
            say("")
            return serve(stack, state_dir or state_dir_from_env(), user="demo-user")
    return 0


if __name__ == "__main__":
    sys.exit(run())
