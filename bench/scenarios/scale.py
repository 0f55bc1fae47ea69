"""Scale: job creation latency by task count, a 10,000-task job run to completion (largest history
and payload against the limits), and many concurrent jobs."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.harness import Bench, sim_job
from bench.scenarios.overhead import percentile

HISTORY_LIMIT = 25_000
PAYLOAD_LIMIT = 256 * 1024


def creation(bench: Bench, sizes: list[int], repeats: int) -> dict[str, Any]:
    """POST /jobs wall time per task count. The small jobs are created back to back, then left to
    finish; the big one is created once on a quiet stack and then runs to completion (big_job)."""
    out: dict[str, Any] = {}
    small: list[str] = []
    for size in sizes:
        if size == max(sizes):
            bench.wait(small, timeout=900)
            bench.wait_quiet(120)
            bench.meter.reset()  # from here the meter sees only the big job
        times, ids = [], []
        for _ in range(1 if size == max(sizes) else repeats):
            job_id, seconds = bench.create(sim_job(size, model="sim-image", latency=0, concurrency=100))
            times.append(seconds)
            ids.append(job_id)
        small += ids if size != max(sizes) else []
        out[str(size)] = {
            "samples_s": [round(t, 4) for t in times],
            "median_s": statistics.median(times),
            "jobs": ids,
        }
    base = out[str(min(sizes))]["median_s"]
    for entry in out.values():
        entry["ratio_to_1"] = round(entry["median_s"] / base, 2)
    return out


def big_job(bench: Bench, job_id: str, size: int, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    try:
        bench.wait([job_id], timeout=timeout)
        finished = True
    except TimeoutError:
        finished = False
    elapsed = time.monotonic() - started
    snapshot = bench.meter.snapshot()
    job = bench.job(job_id)
    done = sum(int(job.get(k, 0)) for k in ("countCompleted", "countFailed", "countCancelled"))
    return {
        "tasks": size,
        "finished": finished,
        "job_status": job["status"],
        "tasks_ended": done,
        "wall_s": round(elapsed, 1),
        "tasks_per_s": round(done / elapsed, 2),
        "state_transitions": snapshot["state_transitions"],
        "max_events": snapshot["max_events"],
        "largest_payload_bytes": snapshot["largest_payload_bytes"],
        "history_limit": HISTORY_LIMIT,
        "payload_limit": PAYLOAD_LIMIT,
        "lambda_invocations": snapshot["lambda_invocations"],
    }


def concurrent_jobs(bench: Bench, jobs: int, tasks: int, latency: float, timeout: float) -> dict[str, Any]:
    body = sim_job(tasks, model="sim-image-webhook", latency=latency)
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        created = list(pool.map(lambda _: bench.create(body), range(jobs)))
    ids = [job_id for job_id, _ in created]
    latencies = [seconds for _, seconds in created]
    try:
        ended = bench.wait(ids, timeout=timeout)
        all_ended = True
    except TimeoutError:
        ended, all_ended = time.monotonic(), False
    statuses: dict[str, int] = {}
    for job_id in ids:
        status = bench.job(job_id)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "jobs": jobs,
        "tasks_per_job": tasks,
        "latency_s": latency,
        "time_scale": bench.scale,
        "all_ended": all_ended,
        "statuses": statuses,
        "create_p50_s": round(percentile(latencies, 50), 3),
        "create_p99_s": round(percentile(latencies, 99), 3),
        "makespan_s": round((ended - started) / bench.scale, 1),
        "ideal_s": latency,
        "wall_s": round(ended - started, 1),
    }


def run(big: int, repeats: int, timeout: float) -> dict[str, Any]:
    bench = Bench.start(0.05)
    try:
        created = creation(bench, [1, 100, big], repeats)
        return {"creation": created, "big_job": big_job(bench, created[str(big)]["jobs"][0], big, timeout)}
    finally:
        bench.stop()


def run_concurrent(jobs: int, timeout: float) -> dict[str, Any]:
    """On a stack of its own: many concurrent jobs can saturate the local stack."""
    bench = Bench.start(0.05)
    try:
        return concurrent_jobs(bench, jobs, 1, latency=20, timeout=timeout)
    finally:
        bench.stop()
