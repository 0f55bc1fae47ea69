"""The live channel under load: many jobs at once, one connected app receiving every change.

Latency is from a task's transition (the stream record's ApproximateCreationDateTime, the moment
its item was written) to the client receiving the frame, in wall seconds: the channel's own path
(stream poller, LiveFunction, post) runs at wall speed whatever TIME_SCALE does to the providers.
Counted besides: frames per job and what the channel costs (messages, connection minutes, the
LiveFunction's invocations and duration, its DynamoDB writes).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from websockets.sync.client import connect

from bench.harness import Bench, sim_job
from bench.scenarios.overhead import percentile


class Receiver:
    """One app's connection, for all of the user's jobs, kept in a thread."""

    def __init__(self, url: str) -> None:
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._socket = connect(url, open_timeout=30, max_queue=None)
        self.opened = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._socket.recv(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - closed: the run is over
                return
            self.frames.append((time.time(), json.loads(raw)))

    def close(self) -> float:
        """Closes; returns the seconds it was open."""
        self._stop.set()
        self._thread.join()
        self._socket.close()
        return time.monotonic() - self.opened


def run(jobs: int, tasks: int, scale: float) -> dict[str, Any]:
    bench = Bench.start(scale)
    try:
        assert bench.stack.live is not None
        receiver = Receiver(f"{bench.stack.live_url}?token={bench.stack.mint_token(bench.user)}")
        bench.meter.reset()
        posts_before = bench.stack.live.posts
        started = time.monotonic()
        # Polled tasks of 60 schedule seconds with 4 progress steps: each reports progress on its checks.
        ids = [
            bench.create(sim_job(tasks, model="sim-image", latency=60, progressSteps=4))[0]
            for _ in range(jobs)
        ]
        ended = bench.ended_within(ids, timeout=1800)
        bench.stack.wait_idle(timeout=120)
        time.sleep(0.5)  # the last frames on their way
        open_seconds = receiver.close()
        elapsed = time.monotonic() - started
        snapshot = bench.meter.snapshot()
        posts = bench.stack.live.posts - posts_before
    finally:
        bench.stop()

    frames = [(at, f) for at, f in receiver.frames if f.get("type") == "change" and f["jobId"] in set(ids)]
    task_latencies = [
        at - datetime.fromisoformat(f["at"].replace("Z", "+00:00")).timestamp()
        for at, f in frames
        if f["kind"] == "task.changed"
    ]
    per_job: dict[str, list[int]] = {}
    for _, f in frames:
        per_job.setdefault(f["jobId"], []).append(f["seq"])
    in_order = all(seqs == list(range(1, len(seqs) + 1)) for seqs in per_job.values())
    live_writes = {k: v for k, v in snapshot["dynamodb_write_units_by"].items() if "LIVE" in k or "CONN" in k}
    return {
        "jobs": jobs,
        "tasks_per_job": tasks,
        "images": jobs * tasks,
        "time_scale": scale,
        "all_ended": ended,
        "wall_seconds": round(elapsed, 1),
        "frames": len(frames),
        "posts": posts,
        "frames_per_job": round(len(frames) / jobs, 1),
        "frames_per_job_max": max((len(s) for s in per_job.values()), default=0),
        "every_job_in_order_without_gaps": in_order and len(per_job) == jobs,
        "task_latency_s": {
            "p50": round(percentile(task_latencies, 50), 3),
            "p99": round(percentile(task_latencies, 99), 3),
            "max": round(max(task_latencies, default=float("nan")), 3),
            "samples": len(task_latencies),
        },
        # One app connected through the run; in schedule time (what a real run lasts) the same run is
        # wall / TIME_SCALE seconds long.
        "connection_minutes_schedule": round(open_seconds / scale / 60, 1),
        "live_function": {
            "invocations": snapshot["lambda_invocations"].get("LiveFunction", 0),
            "gb_seconds": round(snapshot["lambda_gb_seconds_by"].get("LiveFunction", 0.0), 3),
        },
        "live_write_units": round(sum(live_writes.values()), 1),
        "live_write_units_by": live_writes,
    }
