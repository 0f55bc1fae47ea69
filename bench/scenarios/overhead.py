"""Orchestration overhead: a job's makespan against what the provider's busy time allows, and the
delay from the provider finishing a task to the task being COMPLETED."""

from __future__ import annotations

import math
import statistics
import time
from datetime import datetime
from typing import Any

from bench.harness import Bench, sim_job
from bench.scenarios.cost import MODES


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[rank]


def measure(bench: Bench, mode: str, n: int, concurrency: int, latency: float) -> dict[str, Any]:
    bench.stack._simulator.reset()
    started = time.monotonic()
    job_id, _ = bench.create(sim_job(n, model=MODES[mode], latency=latency, concurrency=concurrency))
    ended = bench.wait([job_id], timeout=1800)
    scale = bench.scale
    makespan = (ended - started) / scale
    ideal = math.ceil(n / concurrency) * latency
    finished = {int(t["sk"].removeprefix("TASK#")): t for t in bench.items(job_id, "TASK#")}
    by_provider_id = {t.get("providerId"): t for t in finished.values()}
    delays_wall = []
    provider_start, provider_end = float("inf"), 0.0
    for p in bench.predictions():
        task = by_provider_id.get(p.id)
        if task is None or task["status"] != "COMPLETED":
            continue
        done = p.created_epoch + bench.stack._simulator.wall(p.sim.queue_seconds + p.sim.latency)
        provider_start, provider_end = min(provider_start, p.created_epoch), max(provider_end, done)
        delays_wall.append(_epoch(task["finishedAt"]) - done)
    bench.wait_quiet()
    return {
        "mode": mode,
        "tasks": n,
        "concurrency": concurrency,
        "latency_s": latency,
        "time_scale": scale,
        "completed": len(delays_wall),
        "makespan_s": round(makespan, 2),
        "ideal_s": ideal,
        "ratio": round(makespan / ideal, 4),
        "provider_span_s": round((provider_end - provider_start) / scale, 2),
        # Schedule seconds (wall / TIME_SCALE): waits are compressed, local processing is not, so the
        # processing part is overstated by 1/TIME_SCALE.
        "delay_p50_s": round(percentile(delays_wall, 50) / scale, 3),
        "delay_p99_s": round(percentile(delays_wall, 99) / scale, 3),
        # Wall seconds: the local stack's own processing time (webhook mode has no wait in it).
        "delay_p50_wall_s": round(percentile(delays_wall, 50), 3),
        "delay_p99_wall_s": round(percentile(delays_wall, 99), 3),
        "delay_mean_wall_s": round(statistics.fmean(delays_wall), 3) if delays_wall else None,
    }


def run(n: int, concurrency: int, latency: float, scale: float) -> dict[str, Any]:
    bench = Bench.start(scale)
    try:
        return {mode: measure(bench, mode, n, concurrency, latency) for mode in MODES}
    finally:
        bench.stop()
