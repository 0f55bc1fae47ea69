"""Cancel mid-flight: nothing submitted after the cancel response, in-flight tasks cancelled at the
provider, the job settled. The sweeper runs (schedules on): in webhook mode it is the one that polls."""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Bench, sim_job
from bench.models import poll_times
from bench.scenarios.cost import EXPECTED_SECONDS, MODES
from bench.scenarios.overhead import percentile


def measure(
    bench: Bench, mode: str, n: int, concurrency: int, latency: float, cancel_after: float
) -> dict[str, Any]:
    sim = bench.stack._simulator
    sim.reset()
    job_id, _ = bench.create(sim_job(n, model=MODES[mode], latency=latency, concurrency=concurrency))
    time.sleep(bench.stack._simulator.wall(cancel_after))
    cancelled_at = bench.cancel(job_id)
    settled_at = bench.wait([job_id], timeout=900)
    predictions = bench.predictions()
    in_flight = [
        p
        for p in predictions
        if p.created_mono < cancelled_at
        and sim.completed_mono(p) > cancelled_at
        and (p.canceled_mono is None or p.canceled_mono > cancelled_at)
    ]
    cancel_delays = [(p.canceled_mono - cancelled_at) / bench.scale for p in in_flight if p.canceled_mono]
    tasks = bench.items(job_id, "TASK#")
    job = bench.job(job_id)
    bench.wait_quiet()
    # One wake-up: polling, the longest wait the adaptive schedule can be in; webhook, a sweeper pass.
    gaps = [
        b - a
        for a, b in zip(
            poll_times(latency, EXPECTED_SECONDS), poll_times(latency, EXPECTED_SECONDS)[1:], strict=False
        )
    ]
    wake_up = max([poll_times(latency, EXPECTED_SECONDS)[0], *gaps]) if mode == "polling" else 60
    return {
        "mode": mode,
        "tasks": n,
        "concurrency": concurrency,
        "latency_s": latency,
        "cancel_after_s": cancel_after,
        "time_scale": bench.scale,
        "job_status": job["status"],
        "task_statuses": {s: sum(1 for t in tasks if t["status"] == s) for s in {t["status"] for t in tasks}},
        "submissions_after_cancel": sum(1 for p in predictions if p.created_mono > cancelled_at),
        "in_flight_at_cancel": len(in_flight),
        "cancelled_at_provider": len(cancel_delays),
        "finished_at_provider_instead": len(in_flight) - len(cancel_delays),
        "cancel_at_provider_p50_s": round(percentile(cancel_delays, 50), 2) if cancel_delays else None,
        "cancel_at_provider_max_s": round(max(cancel_delays), 2) if cancel_delays else None,
        "one_wake_up_s": wake_up,
        "settled_after_s": round((settled_at - cancelled_at) / bench.scale, 2),
        "credits": {k: job.get(k) for k in ("creditsReserved", "creditsCharged", "creditsRefunded")},
    }


def run(n: int, concurrency: int, scale: float) -> dict[str, Any]:
    bench = Bench.start(scale, schedules=True)
    try:
        return {
            "polling": measure(bench, "polling", n, concurrency, latency=120, cancel_after=30),
            "webhook": measure(bench, "webhook", n, concurrency, latency=300, cancel_after=30),
        }
    finally:
        bench.stop()
