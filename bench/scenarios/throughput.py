"""Local runtime speed: tasks per second through the whole local stack, zero-latency simulator."""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Bench, sim_job


def run(n: int) -> dict[str, Any]:
    bench = Bench.start(0.01)
    try:
        started = time.monotonic()
        job_id, _ = bench.create(sim_job(n, model="sim-image", latency=0, concurrency=100))
        ended = bench.wait([job_id], timeout=1800)
        snapshot = bench.meter.snapshot()
        elapsed = ended - started
        return {
            "tasks": n,
            "concurrency": 100,
            "job_status": bench.job(job_id)["status"],
            "wall_s": round(elapsed, 2),
            "tasks_per_s": round(n / elapsed, 2),
            "state_transitions_per_s": round(snapshot["state_transitions"] / elapsed, 1),
            "lambda_invocations_per_s": round(sum(snapshot["lambda_invocations"].values()) / elapsed, 1),
        }
    finally:
        bench.stop()
