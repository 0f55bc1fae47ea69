"""AWS work per image in webhook and polling mode at one provider latency, counted from the run."""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Bench, sim_job
from bench.models import poll_times
from bench.usage import free_requests, usage_of

EXPECTED_SECONDS = 20  # catalog: sim-image and sim-image-webhook expect 20 s
MODES = {"webhook": "sim-image-webhook", "polling": "sim-image"}


def measure(bench: Bench, mode: str, latency: float, n: int) -> dict[str, Any]:
    """One job of n tasks, all in flight at once; the meter covers the job from POST to the last push."""
    bench.meter.reset()
    started = time.monotonic()
    job_id, _ = bench.create(sim_job(n, model=MODES[mode], latency=latency, concurrency=n))
    bench.wait([job_id], timeout=600)
    bench.wait_quiet()
    wall = time.monotonic() - started
    snapshot = bench.meter.snapshot()
    job = bench.job(job_id)
    tasks = bench.items(job_id, "TASK#")
    polls = snapshot["lambda_invocations"].get("PollTaskFunction", 0) / n
    expected = len(poll_times(latency, EXPECTED_SECONDS)) if mode == "polling" else 0
    history = bench.stack.client("stepfunctions").get_execution_history(
        executionArn=f"{bench.stack.resource('GenerationStateMachine').replace(':stateMachine:', ':execution:')}:{job_id}"
    )
    return {
        "mode": mode,
        "latency_s": latency,
        "time_scale": bench.scale,
        "images": n,
        "job_status": job["status"],
        "completed": sum(1 for t in tasks if t["status"] == "COMPLETED"),
        "wall_s": round(wall, 2),
        "polls_per_image": polls,
        "polls_per_image_real_schedule": expected,
        "parent_history_events_api": len(history["events"]),
        "snapshot": snapshot,
        "free_requests": free_requests(snapshot),
        "per_image": usage_of(snapshot).scaled(1 / n).as_dict(),
    }


def run(latency: float, scale: float, n: int) -> dict[str, Any]:
    bench = Bench.start(scale)
    try:
        return {mode: measure(bench, mode, latency, n) for mode in MODES}
    finally:
        bench.stop()


def run_poll_check(latency: float, scale: float, n: int) -> dict[str, Any]:
    """Polling only: does a compressed clock give the real schedule's poll count?"""
    bench = Bench.start(scale)
    try:
        result = measure(bench, "polling", latency, n)
        return {k: v for k, v in result.items() if k not in {"snapshot", "free_requests"}}
    finally:
        bench.stop()
