"""AWS work per image in webhook and polling mode at one provider latency, counted from the run.

Each mode runs one job per entry of the plan (the same size repeated with different seeds, then other
sizes), every task with its own latency drawn around the scenario's, seeded. The sweeper runs (it is
the schedule AWS runs every minute): what its passes do for the job's tasks is work per image, and
what an idle pass costs, measured after the jobs, is taken out of each run and reported as a fixed
cost per minute.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from bench.harness import Bench
from bench.models import poll_times
from bench.usage import Usage, free_requests, function_config, sampling_rule, usage_of

EXPECTED_SECONDS = 20  # catalog: sim-image and sim-image-webhook expect 20 s
MODES = {"webhook": "sim-image-webhook", "polling": "sim-image"}
SPREAD = 0.25  # each task's latency is uniform within +-25% of the scenario's
SWEEPER = "SweeperFunction"
IDLE_MINUTES = 3  # schedule minutes with nothing to do, to price an idle sweeper pass


def latencies(n: int, latency: float, seed: int) -> list[float]:
    draw = random.Random(seed)
    return [round(latency * draw.uniform(1 - SPREAD, 1 + SPREAD), 2) for _ in range(n)]


def cost_job(model: str, task_latencies: list[float]) -> dict[str, Any]:
    """One job whose tasks each have their own latency (the `tasks` form: an input per task)."""
    return {
        "provider": "simulator",
        "model": model,
        "input": {"prompt": "bench"},
        "tasks": [
            {"seed": i, "sim": {"latency": lat, "queueSeconds": 0}} for i, lat in enumerate(task_latencies)
        ],
        "concurrency": min(len(task_latencies), 100),
    }


def measure(bench: Bench, mode: str, latency: float, n: int, seed: int) -> dict[str, Any]:
    """One job of n tasks, all in flight at once; the meter covers the job from POST to the last push."""
    bench.meter.reset()
    started = time.monotonic()
    drawn = latencies(n, latency, seed)
    job_id, _ = bench.create(cost_job(MODES[mode], drawn))
    bench.wait([job_id], timeout=1800)
    bench.wait_quiet()
    wall = time.monotonic() - started
    snapshot = bench.meter.snapshot()
    job = bench.job(job_id)
    tasks = bench.items(job_id, "TASK#")
    polls = snapshot["lambda_invocations"].get("PollTaskFunction", 0) / n
    expected = (
        statistics.mean(len(poll_times(lat, EXPECTED_SECONDS)) for lat in drawn) if mode == "polling" else 0
    )
    history = bench.stack.client("stepfunctions").get_execution_history(
        executionArn=f"{bench.stack.resource('GenerationStateMachine').replace(':stateMachine:', ':execution:')}:{job_id}"
    )
    return {
        "mode": mode,
        "latency_s": latency,
        "latency_spread_s": [min(drawn), max(drawn)],
        "seed": seed,
        "time_scale": bench.scale,
        "images": n,
        "job_status": job["status"],
        "completed": sum(1 for t in tasks if t["status"] == "COMPLETED"),
        "wall_s": round(wall, 2),
        "schedule_minutes": wall / bench.scale / 60,
        "polls_per_image": polls,
        "polls_per_image_real_schedule": expected,
        "parent_history_events_api": len(history["events"]),
        "snapshot": snapshot,
        "free_requests": free_requests(snapshot),
    }


def idle_sweeper_pass(bench: Bench) -> dict[str, Any]:
    """What one sweeper pass costs when no job runs (the fixed cost of the schedule)."""
    bench.meter.reset()
    time.sleep(IDLE_MINUTES * 60 * bench.scale)
    snapshot = bench.meter.snapshot()
    passes = snapshot["lambda_invocations"].get(SWEEPER, 0)
    per_pass = usage_of(snapshot).scaled(1 / passes) if passes else Usage()
    return {"passes": passes, "per_pass": per_pass.as_dict(), "per_month": per_pass.cost() * 60 * 24 * 30}


def _per_image(run: dict[str, Any], idle: dict[str, Any]) -> dict[str, float]:
    """The run's usage per image, without the idle share of the sweeper passes it contained."""
    passes = run["snapshot"]["lambda_invocations"].get(SWEEPER, 0)
    usage = usage_of(run["snapshot"]) - Usage.of(idle["per_pass"]).scaled(passes)
    return usage.scaled(1 / run["images"]).as_dict()


def run(
    latency: float,
    scale: float,
    n: int,
    *,
    sizes: tuple[int, ...] = (),
    repeats: int = 3,
    far: float | None = None,
) -> dict[str, Any]:
    """Per mode: `repeats` jobs of n images (seeds 0, 1, 2...), then one job per other size (seed 0 for
    a smaller one, the last seed for a larger one), and with `far` one more of n images whose tasks
    take `far` x the latency."""
    bench = Bench.start(scale, schedules=True)
    try:
        out: dict[str, Any] = {"functions": function_config(), "sampling": sampling_rule()}
        plan = [(n, seed, latency) for seed in range(repeats)]
        plan += [(size, 0 if size < n else repeats - 1, latency) for size in sizes if size != n]
        measured = {
            mode: [measure(bench, mode, lat, size, seed) for size, seed, lat in plan] for mode in MODES
        }
        far_runs = {mode: measure(bench, mode, latency * far, n, repeats) for mode in MODES} if far else {}
        idle = idle_sweeper_pass(bench)
        out["sweeper_idle"] = idle
        for mode, runs in measured.items():
            for r in [*runs, *([far_runs[mode]] if far else [])]:
                r["per_image"] = _per_image(r, idle)
                r["per_1000"] = Usage.of(r["per_image"]).cost() * 1000
            repeated = sorted((r for r in runs if r["images"] == n), key=lambda r: r["per_1000"])
            median = repeated[len(repeated) // 2]
            out[mode] = {
                **median,
                "repeats": [_compact(r) for r in repeated],
                "sizes": {str(r["images"]): _compact(r) for r in runs if r["images"] != n}
                | {str(n): _compact(median)},
            }
            if far:
                out[mode]["far"] = {
                    **_compact(far_runs[mode]),
                    "factor": far,
                    "snapshot": far_runs[mode]["snapshot"],
                }
        return out
    finally:
        bench.stop()


def _compact(r: dict[str, Any]) -> dict[str, Any]:
    keep = ("images", "seed", "latency_s", "latency_spread_s", "job_status", "completed", "wall_s")
    return {k: r[k] for k in keep} | {
        "peak": r["snapshot"]["lambda_peak_concurrency"],
        "polls_per_image": r["polls_per_image"],
        "per_image": r["per_image"],
        "per_1000": r["per_1000"],
    }


def run_poll_check(latency: float, scale: float, n: int) -> dict[str, Any]:
    """Polling only: does a compressed clock give the real schedule's poll count?"""
    bench = Bench.start(scale)
    try:
        result = measure(bench, "polling", latency, n, seed=0)
        return {k: v for k, v in result.items() if k not in {"snapshot", "free_requests"}}
    finally:
        bench.stop()
