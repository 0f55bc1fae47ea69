"""Load on the embedded stack: many concurrent jobs of mixed sizes (1-5 tasks, polling and webhook
models), with provider failures, transient faults and random cancels, all at once.

Nothing may be lost or stuck: every job ends within the bound; for every user the ledger holds
and nothing stays reserved; every job is charged exactly its COMPLETED tasks; no prediction is paid
twice; every COMPLETED task has its output; each job pushes its user's phone once. And load only
makes the stack slower: the only FAILED tasks are those whose provider was scripted to fail them
(a timeout or throttle of our own under load must be retried, never end a paid task).

The default run has LOAD_JOBS=30; `make soak` runs 200. The figures go to the test output.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, Phone, sim_stats
from tests.e2e.test_workflow import ledger

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOBS = int(os.environ.get("LOAD_JOBS", "30"))
USERS = max(2, JOBS // 10)
BOUND = float(os.environ.get("LOAD_BOUND_SECONDS", "85"))


def failure_cause(task: dict[str, Any], events: Callable[[], list[dict[str, Any]]]) -> str:
    """Why a FAILED task failed: "scripted" when its sim input scripted that very failure, else its
    error (or, when it has none, the reason its task.failed event gives) with ids and figures
    blanked, so that one cause counts once."""
    error = str(task.get("error") or "")
    scripted = task["input"].get("sim", {}).get("fail")
    if scripted and error == scripted:
        return "scripted"
    if not error:
        failed = [e for e in events() if e["kind"] == "task.failed" and e.get("taskIndex") == task["index"]]
        error = "; ".join(str(e["detail"].get("reason") or e["detail"].get("error") or "") for e in failed)
    return re.sub(r"[0-9a-f]{8,}|\d+(\.\d+)?", "#", error)[:160] or "(no error)"


def plan(rng: random.Random, n: int) -> dict[str, Any]:
    """A job of n tasks, each with its own scripted provider behaviour."""
    model = rng.choice(["sim-image", "sim-image", "sim-image-webhook"])
    tasks = []
    for i in range(n):
        sim: dict[str, Any] = {"latency": rng.choice([2, 5, 10])}
        roll = rng.random()
        if roll < 0.10:
            sim["fail"] = "simulated model failure"
        elif roll < 0.20:
            sim["serverErrors"] = 1
        elif roll < 0.30:
            sim["throttle"] = 1
            sim["retryAfter"] = 5
        elif roll < 0.35:
            sim["statusErrors"] = 2
        elif roll < 0.40 and model.endswith("webhook"):
            sim["webhook"] = {"duplicate": True}
        tasks.append({"seed": i, "sim": sim})
    return {"provider": "simulator", "model": model, "input": {"prompt": "load"}, "tasks": tasks}


def test_concurrent_mixed_jobs_with_cancels_and_failures_all_end_settled_and_pushed_once(
    stack: LocalStack, make_user: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN several users with credits and a phone each, and JOBS jobs of 1-5 tasks with failures
    # and transient provider faults; about one job in five is cancelled at a random moment
    rng = random.Random(20250101)
    users: list[Client] = [make_user(credits=1000) for _ in range(USERS)]
    phones = {u.user: Phone(u) for u in users}
    specs = [(users[j % USERS], plan(rng, rng.randint(1, 5)), rng.random() < 0.2) for j in range(JOBS)]
    delays = [rng.uniform(0.0, 1.5) for _ in specs]
    stack.wait_idle(timeout=60)
    baseline = sim_stats(stack)

    # WHEN they are all created at once and the chosen ones cancelled while they run
    started = time.monotonic()

    def run(index: int) -> tuple[Client, str, bool]:
        user, body, cancel = specs[index]
        job_id = user.create(body)["jobId"]
        if cancel:
            time.sleep(delays[index])
            assert user.post(f"/jobs/{job_id}/cancel").status_code in (202, 409)
        return user, job_id, cancel

    with ThreadPoolExecutor(16) as pool:
        created = list(pool.map(run, range(JOBS)))
    created_in = time.monotonic() - started

    def active() -> list[str]:
        # One list call per user (what an app does), not one read per job: the stack runs in this
        # process, and reading every job in a loop would slow down the very thing being measured.
        return [
            j["jobId"]
            for u in users
            for j in u.get("/jobs", params={"status": "active", "limit": 100}).json()["items"]
        ]

    deadline = started + BOUND
    pending = active()
    while pending and time.monotonic() < deadline:
        time.sleep(0.25)
        pending = active()
    elapsed = time.monotonic() - started
    # THEN nothing is stuck: every job ended within the bound
    assert not pending, f"{len(pending)} jobs not ended after {BOUND}s: {sorted(pending)[:5]}"
    stack.wait_idle(timeout=60)

    # AND for every user the ledger holds and nothing stays reserved
    for user in users:
        granted, available, reserved, charged = ledger(user)
        assert (granted, reserved) == (1000, 0), user.user
        assert granted == available + reserved + charged
    # AND every job charged exactly its COMPLETED tasks and settled all the others
    stats = sim_stats(stack)
    statuses: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for user, job_id, _ in created:
        job = user.job(job_id)
        assert job["status"] in {"COMPLETED", "FAILED", "CANCELLED"}, job_id
        statuses[job["status"]] += 1
        counts, n = job["counts"], job["plan"]["taskCount"]
        tasks.update({k: v for k, v in counts.items() if v})
        assert counts["PENDING"] == counts["PROCESSING"] == 0, (job_id, counts)
        assert job["credits"]["charged"] == counts["COMPLETED"], job_id
        assert job["credits"]["charged"] + job["credits"]["refunded"] == n, job_id
        # AND no prediction paid twice, no output lost
        for task in job["tasks"]:
            key = f"{job_id}:{task['index']}"
            if task["status"] == "FAILED":
                failures[failure_cause(task, lambda u=user, j=job_id: u.events(j))] += 1
            assert stats["creates_per_key"].get(key, 0) <= 1, key
            if task["status"] == "COMPLETED":
                assert stats["creates_per_key"][key] == 1, key
                (output,) = task["outputs"]
                assert output["size"] > 0, key
    # AND each job pushed its user's phone exactly once
    for user in users:
        pushed = Counter(
            json.loads(json.loads(m)["GCM"])["data"]["jobId"] for m in phones[user.user].pushes()
        )
        mine = [job_id for u, job_id, _ in created if u is user]
        assert sorted(pushed) == sorted(mine), user.user
        assert set(pushed.values()) == {1}, pushed

    total_tasks = sum(tasks.values())
    created_predictions = stats["predictions_created"] - baseline["predictions_created"]
    with capsys.disabled():
        print(
            f"\n[load] {JOBS} jobs / {total_tasks} tasks / {USERS} users: created in {created_in:.1f}s, "
            f"all ended in {elapsed:.1f}s ({total_tasks / elapsed:.1f} tasks/s, {JOBS / elapsed:.1f} jobs/s); "
            f"jobs {dict(statuses)}; tasks {dict(tasks)}; "
            f"cancel requests {sum(c for *_, c in created)}; predictions {created_predictions}; "
            f"failed by cause {dict(failures)}"
        )
    # AND load makes the stack slower, never makes a task fail: the only FAILED tasks are those
    # whose provider was scripted to fail them
    unscripted = {cause: n for cause, n in failures.items() if cause != "scripted"}
    assert not unscripted, f"tasks FAILED by something other than their script: {unscripted}"
