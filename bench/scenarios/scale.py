"""Scale: job creation latency by task count, a 10,000-task job run to completion (largest history
and payload against the limits), and many concurrent jobs."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.harness import Bench, sim_job
from bench.scenarios.overhead import percentile

HISTORY_LIMIT = 25_000
PAYLOAD_LIMIT = 256 * 1024


def counted(n: int) -> dict[str, Any]:
    body = sim_job(1, model="sim-image", latency=0, concurrency=100)
    return body | {"matrix": {"style": ["a", "b", "c", "d"]}, "count": n}


def creation(bench: Bench, sizes: list[int], repeats: int) -> dict[str, Any]:
    """POST /jobs wall time per task count, nothing else: PrepareJob is stubbed to fail at once, so
    the created jobs end without running (creation must be O(1); running them is big_job's part)."""

    def no_prepare(event: Any, context: Any) -> Any:
        raise RuntimeError("bench: creation latency only")

    bench.stack.override_handler("PrepareJobFunction", no_prepare)
    out: dict[str, Any] = {}
    ids: list[str] = []
    try:
        # A matrix with `count` (the README's O(1) plan: a few values, N tasks round-robin), and for
        # the biggest size also the two forms whose request body itself is O(N): a matrix with one
        # value per task, and an explicit `tasks` list of one input per task.
        big = max(sizes)
        per_task = sim_job(big, model="sim-image", latency=0)
        listed = {k: v for k, v in per_task.items() if k != "matrix"} | {
            "tasks": [{"seed": i} for i in range(big)]
        }
        bodies = [(str(size), counted(size)) for size in sizes]
        bodies += [(f"{big} (one matrix value each)", per_task), (f"{big} (explicit tasks list)", listed)]
        for label, body in bodies:
            times = []
            for _ in range(repeats):
                job_id, seconds = bench.create(body)
                times.append(seconds)
                ids.append(job_id)
                bench.wait([job_id], timeout=120)
            out[label] = {"samples_s": [round(t, 4) for t in times], "median_s": statistics.median(times)}
    finally:
        bench.stack.override_handler("PrepareJobFunction", None)
    base = out[str(min(sizes))]["median_s"]
    for entry in out.values():
        entry["ratio_to_1"] = round(entry["median_s"] / base, 2)
    return out


def big_job(bench: Bench, job_id: str, size: int, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    finished = bench.ended_within([job_id], timeout)
    elapsed = time.monotonic() - started
    snapshot = bench.meter.snapshot()
    job = bench.job(job_id)
    done = sum(int(job.get(k, 0)) for k in ("countCompleted", "countFailed", "countCancelled"))
    failed = Counter(
        str(task.get("error") or "(no error)")[:120]
        for task in bench.items(job_id, "TASK#")
        if task.get("status") == "FAILED"
    )
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
        # Every task step reads the job item and every transition rewrites it: these stay flat per
        # task only while that item stays small (the plan and input live in S3 past 1 KB).
        "dynamodb_write_units_per_task": round(snapshot["dynamodb_write_units"] / max(done, 1), 1),
        "dynamodb_read_units_per_task": round(snapshot["dynamodb_read_units"] / max(done, 1), 1),
        "failed_by_error": dict(failed),
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


def run(big: int, repeats: int) -> dict[str, Any]:
    bench = Bench.start(0.05)
    try:
        return {"creation": creation(bench, [1, 100, big], repeats)}
    finally:
        bench.stop()


def run_big(big: int, timeout: float) -> dict[str, Any]:
    # The stack is not stopped: with the big job still running, stopping can take longer than the
    # run; the worker process exits instead (bench.__main__).
    bench = Bench.start(0.05)
    job_id, _ = bench.create(sim_job(big, model="sim-image", latency=0, concurrency=100))
    return big_job(bench, job_id, big, timeout)


def run_concurrent(jobs: int, timeout: float) -> dict[str, Any]:
    """On a stack of its own: many concurrent jobs can saturate the local stack."""
    bench = Bench.start(0.05)
    try:
        return concurrent_jobs(bench, jobs, 1, latency=20, timeout=timeout)
    finally:
        bench.stop()
