"""Pipelines on Step Functions: the largest execution history and state payload of a long chained
pipeline against the service's limits, and seed 004's makespan against the critical path of its
provider times, with item chains streamed and run step by step."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import Bench
from bench.models import poll_times
from bench.scenarios.scale import HISTORY_LIMIT, PAYLOAD_LIMIT
from bench.usage import usage_of
from genjobs_local import sim_outputs

STAGES = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "stages.json"

FAST = {"latency": 0, "queueSeconds": 0}
# Seed 004's models with fixed latencies (schedule seconds); one scene's background is slow.
LATENCY = {"script": 5, "speech": 3, "avatar": 60, "background": 90, "slow_background": 240}
BACKGROUND_EXPECTED_S = 90  # the catalog's sim-background: its first status check comes then
MAX_CONCURRENCY = 100  # POST /jobs' most tasks of a job in flight


# ----------------------------------------------------------------------------- bodies
def chained(items: int, steps: int, webhook_every: int, shape: str = "chained") -> dict[str, Any]:
    """A static first step of `items` sync tasks, then `steps - 1` forEach steps each over the one
    before: every `webhook_every`-th a webhook model, the others sync. Shape "chained": every link is
    chainable, so an item's whole chain runs in one child execution; "after": each step also waits
    for the whole step before (`after`), so nothing chains and each step is a round of its own;
    "overall": one more sync step over every output of the last (its input lists them all)."""
    body: dict[str, Any] = {
        "input": {"prompt": "bench"},
        "concurrency": 100,
        "steps": [
            {
                "name": "s01",
                "kind": "sync",
                "provider": "simulator",
                "model": "sim-tts",
                "count": items,
                "input": {"text": "${input.prompt}", "sim": FAST},
            }
        ],
    }
    for k in range(2, steps + 1):
        before = f"s{k - 1:02d}"
        step: dict[str, Any] = {"name": f"s{k:02d}", "provider": "simulator", "forEach": {"step": before}}
        if shape == "after":
            step["after"] = [before]
        if k % webhook_every == 0:
            step |= {
                "model": "sim-image-webhook",
                "input": {"prompt": "${item.index}", "sim": FAST | {"latency": 1}},
            }
        else:
            step |= {"kind": "sync", "model": "sim-tts", "input": {"text": "${item.index}", "sim": FAST}}
        body["steps"].append(step)
    if shape == "overall":
        last = f"s{steps:02d}"
        body["steps"].append(
            {
                "name": "all",
                "kind": "sync",
                "provider": "simulator",
                "model": "sim-llm",
                "overAll": {"steps": [last]},
                "input": {"prompt": "summary", "files": f"${{steps.{last}.outputs}}", "sim": FAST},
            }
        )
    return body


def document(paragraphs: int) -> str:
    return "\n\n".join(f"Scene {n} opens. The narrator speaks of part {n}." for n in range(1, paragraphs + 1))


def script_job(scenes: int) -> dict[str, Any]:
    """A sync LLM step asked for `scenes` scenes, and a forEach step over them."""
    return {
        "input": {"document": document(scenes)},
        "steps": [
            {
                "name": "script",
                "kind": "sync",
                "provider": "simulator",
                "model": "sim-llm",
                "input": {
                    "prompt": "${input.document}",
                    "format": "script",
                    "maxScenes": scenes,
                    "sim": FAST,
                },
                "items": "scenes",
            },
            {
                "name": "speech",
                "kind": "sync",
                "provider": "simulator",
                "model": "sim-tts",
                "forEach": {"step": "script", "max": min(scenes, 1000)},
                "input": {"text": "${item.narration}", "sim": FAST},
            },
        ],
    }


def seed004(scenes: int, streamed: bool) -> dict[str, Any]:
    """Seed 004's video pipeline without approval; the last scene's background is the slow one.
    Step by step: avatar also waits for every speech (`after`), which turns chaining off."""
    slow = f"${{index == `{scenes - 1}` && `{LATENCY['slow_background']}` || `{LATENCY['background']}`}}"

    def sim(latency: Any) -> dict[str, Any]:
        return {"latency": latency, "queueSeconds": 0}

    avatar: dict[str, Any] = {
        "name": "avatar",
        "provider": "simulator",
        "model": "sim-avatar",
        "forEach": {"step": "speech"},
        "input": {"audio": "${item.outputs[0].url}", "sim": sim(LATENCY["avatar"])},
    }
    if not streamed:
        avatar["after"] = ["speech"]
    return {
        "input": {"document": document(scenes)},
        "concurrency": 2 * scenes,
        "steps": [
            {
                "name": "script",
                "kind": "sync",
                "provider": "simulator",
                "model": "sim-llm",
                "input": {"prompt": "${input.document}", "format": "script", "sim": sim(LATENCY["script"])},
                "items": "scenes",
            },
            {
                "name": "speech",
                "kind": "sync",
                "provider": "simulator",
                "model": "sim-tts",
                "forEach": {"step": "script", "max": scenes},
                "input": {"text": "${item.narration}", "sim": sim(LATENCY["speech"])},
            },
            avatar,
            {
                "name": "background",
                "provider": "simulator",
                "model": "sim-background",
                "forEach": {"step": "script", "max": scenes},
                "input": {"prompt": "${item.visual}", "sim": sim(slow)},
            },
            {
                "name": "render",
                "kind": "lambda",
                "function": "render",
                "overAll": {"steps": ["avatar", "background"], "needs": "all"},
                "input": {"avatars": "${steps.avatar.outputs}", "backgrounds": "${steps.background.outputs}"},
            },
        ],
    }


# ----------------------------------------------------------------------------- reading a run
def parent_history(bench: Bench, job_id: str) -> list[dict[str, Any]]:
    arn = bench.stack.resource("GenerationStateMachine").replace(":stateMachine:", ":execution:")
    client = bench.stack.client("stepfunctions")
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = client.get_execution_history(
            executionArn=f"{arn}:{job_id}", maxResults=1000, **({"nextToken": token} if token else {})
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _run(bench: Bench, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One pipeline from POST /jobs to its end, metered alone."""
    bench.wait_quiet()
    bench.meter.reset()
    started = time.monotonic()
    job_id, _ = bench.create(body)
    finished = bench.ended_within([job_id], timeout)
    wall = time.monotonic() - started
    bench.wait_quiet()
    snapshot = bench.meter.snapshot()
    job = bench.job(job_id)
    history = parent_history(bench, job_id)
    types = [str(e["type"]) for e in history]
    tasks = bench.items(job_id, "TASK#")
    return {
        "job_id": job_id,
        "finished": finished,
        "job_status": job["status"],
        "tasks": len(tasks),
        # What a task item holds as its input (DynamoDB: 400 KB an item), and why tasks did not complete.
        "largest_task_input_bytes": max(
            (len(json.dumps(t.get("input"), default=str)) for t in tasks), default=0
        ),
        "errors": dict(Counter(str(t.get("error"))[:160] for t in tasks if t["status"] != "COMPLETED")),
        "job_error": str(job.get("error") or "")[:300] or None,
        "tasks_by_status": {
            s: sum(1 for t in tasks if t["status"] == s) for s in {t["status"] for t in tasks}
        },
        "wall_s": round(wall, 1),
        "rounds": types.count("MapStateEntered"),
        "parent_history_events_api": len(history),
        "max_events": snapshot["max_events"],
        "executions": snapshot["executions"],
        "largest_payload_bytes": snapshot["largest_payload_bytes"],
        "state_transitions": snapshot["state_transitions"],
        "lambda_invocations": snapshot["lambda_invocations"],
        # Billable AWS work of the whole job, from POST /jobs to quiet (bench.usage).
        "usage": usage_of(snapshot).as_dict(),
        "schedule_s": (
            round((_epoch(job["finishedAt"]) - _epoch(job["createdAt"])) / bench.scale, 1)
            if job.get("finishedAt")
            else None
        ),
    }


# ----------------------------------------------------------------------------- 1. limits
def script_items(bench: Bench, scenes: int) -> dict[str, Any]:
    """How many items a sync LLM step can make: a script asked for `scenes` scenes."""
    run = _run(bench, script_job(scenes), timeout=300)
    view = bench.session.get(f"{bench.stack.api_url}/jobs/{run['job_id']}", timeout=60).json()
    sized = [s for s in view.get("steps", []) if s.get("name") == "speech"]
    answer = sim_outputs.script(document(scenes), scenes)
    # The largest script of this document that a task item keeps as its result (running.MAX_RESULT_BYTES).
    from genjobs.logic.running import MAX_RESULT_BYTES, _bounded

    fits = max(
        (n for n in range(1, scenes + 1) if _bounded(sim_outputs.script(document(n), n)) is not None),
        default=0,
    )
    return {
        "scenes_asked": scenes,
        "script_json_bytes": len(json.dumps(answer)),
        "result_limit_bytes": MAX_RESULT_BYTES,
        "items_made": sized[0].get("size") if sized else None,
        "largest_script_kept_scenes": fits,
        "job_status": run["job_status"],
        "tasks_by_status": run["tasks_by_status"],
    }


def limits(bench: Bench, runs: list[tuple[int, int, str]], timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {"history_limit": HISTORY_LIMIT, "payload_limit": PAYLOAD_LIMIT, "runs": []}
    for items, steps, shape in runs:
        result = _run(bench, chained(items, steps, 5, shape), timeout)
        result |= {"items": items, "steps": steps, "shape": shape, "webhook_every": 5}
        result["tasks_per_s"] = round(sum(result["tasks_by_status"].values()) / max(result["wall_s"], 0.1), 2)
        out["runs"].append(result)
    return out


# ----------------------------------------------------------------------------- 2. makespan
def critical_path(scenes: int) -> dict[str, float]:
    """The longest chain of provider times (render: the app's function, not a provider, counts 0)
    as the provider runs them, and with the background's status checks on the real schedule."""
    backgrounds = [LATENCY["background"]] * (scenes - 1) + [LATENCY["slow_background"]]
    chain = LATENCY["speech"] + LATENCY["avatar"]
    seen = [poll_times(b, BACKGROUND_EXPECTED_S)[-1] for b in backgrounds]
    return {
        "provider_s": LATENCY["script"] + max(chain, *backgrounds),
        "with_polls_s": LATENCY["script"] + max(chain, *seen),
        "step_by_step_s": LATENCY["script"] + max(LATENCY["speech"], *seen) + LATENCY["avatar"],
    }


def makespan(bench: Bench, scenes: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scenes": scenes,
        "latencies_s": LATENCY,
        "time_scale": bench.scale,
        "critical_path": critical_path(scenes),
    }
    for mode, streamed in (("streamed", True), ("step_by_step", False)):
        samples = []
        for _ in range(repeats):
            run = _run(bench, seed004(scenes, streamed), timeout=600)
            keep = ("job_status", "schedule_s", "wall_s", "rounds", "parent_history_events_api", "max_events")
            samples.append({k: run[k] for k in (*keep, "largest_payload_bytes", "tasks_by_status", "usage")})
        spans = [s["schedule_s"] for s in samples if s["job_status"] == "COMPLETED" and s["schedule_s"]]
        out[mode] = {
            "runs": samples,
            "makespan_s": (
                {"min": min(spans), "median": statistics.median(spans), "max": max(spans)} if spans else None
            ),
        }
    return out


# ----------------------------------------------------------------------------- 3. parallel stages
def stages_body(images: int, latency: float) -> dict[str, Any]:
    """Seed 002 (examples/pipelines/stages.json): three independent stages of `images` images each,
    all in flight at once up to the most a job may have."""
    body: dict[str, Any] = json.loads(STAGES.read_text())
    for step in body["steps"]:
        step["count"] = images
        step["input"]["sim"] = {"latency": latency, "queueSeconds": 0}
    body["concurrency"] = min(3 * images, MAX_CONCURRENCY)
    return body


def stages(bench: Bench, images: int, latency: float) -> dict[str, Any]:
    run = _run(bench, stages_body(images, latency), timeout=600)
    keep = ("job_status", "tasks", "tasks_by_status", "schedule_s", "wall_s", "rounds", "usage")
    return {"images": 3 * images, "latency_s": latency} | {k: run[k] for k in keep}


def run(
    limit_runs: list[tuple[int, int, str]], scenes: int, repeats: int, stage_images: int = 50
) -> dict[str, Any]:
    bench = Bench.start(0.1)
    try:
        return {
            "script_items": script_items(bench, 1000),
            "limits": limits(bench, limit_runs, timeout=900),
            "makespan": makespan(bench, scenes, repeats),
            "stages": stages(bench, stage_images, 20),
        }
    finally:
        bench.stop()
