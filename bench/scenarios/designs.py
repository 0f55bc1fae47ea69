"""The alternative designs (bench.designs) run on the local stack, metered like the cost scenario:
per design and provider latency, one job of n images all in flight at once, from its start to quiet."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from bench.designs import DESIGNS, Designs
from bench.harness import Bench
from bench.usage import free_requests, usage_of

POLL_SECONDS = 5  # the poll loop's Wait
# Provider latency (schedule s) -> TIME_SCALE, as the cost scenarios (each Wait of the poll loop lasts
# 1 s wall at 0.2, long against the tens of ms of local processing of a poll).
SCALES = {20: 0.2, 60: 0.2, 600: 0.1}
QUICK_SCALES = {20: 0.05, 60: 0.05, 600: 0.01}


def measure(bench: Bench, designs: Designs, design: str, latency: float, n: int) -> dict[str, Any]:
    bench.wait_quiet()
    bench.meter.reset()
    job = f"{design}-{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    designs.start(design, job, n, latency)
    finished = designs.wait(job, n, timeout=3 * latency * bench.scale + 300)
    bench.wait_quiet()
    wall = time.monotonic() - started
    snapshot = bench.meter.snapshot()
    results = designs.results(job)
    return {
        "design": design,
        "latency_s": latency,
        "time_scale": bench.scale,
        "images": n,
        "finished": finished,
        "completed": sum(1 for r in results if r["status"] == "COMPLETED"),
        "outputs_in_s3": len(designs.outputs(job)),
        "wall_s": round(wall, 2),
        "polls_per_image": snapshot["lambda_invocations"].get("DesignPollFunction", 0) / n,
        "polls_per_image_real_schedule": math.ceil(latency / POLL_SECONDS) if design == "poll-loop" else 0,
        "snapshot": snapshot,
        "free_requests": free_requests(snapshot),
        "per_image": usage_of(snapshot).scaled(1 / n).as_dict(),
    }


def warm_up(bench: Bench, designs: Designs) -> None:
    """Every design's functions imported and their clients made before anything is measured."""
    for design in DESIGNS:
        job = f"warm-{design}-{uuid.uuid4().hex[:8]}"
        designs.start(design, job, 1, 1)
        designs.wait(job, 1, timeout=120)
    bench.wait_quiet()


def run(scales: dict[int, float], n: int) -> dict[str, Any]:
    """`scales`: provider latency (schedule s) -> the TIME_SCALE of its stack."""
    out: dict[str, Any] = {}
    for latency, scale in scales.items():
        bench = Bench.start(scale)
        designs = Designs.deploy(bench.stack)
        try:
            warm_up(bench, designs)
            out[str(latency)] = {design: measure(bench, designs, design, latency, n) for design in DESIGNS}
        finally:
            designs.stop()
            bench.stop()
    return out
