"""Fair dispatch on the embedded stack: plan limits and provider limits are never exceeded, every
held task still finishes, a newcomer goes before a big job's later tasks, a higher plan goes first,
and a 429 with a reset blocks its pool without burning a receive. Credits are exact in each."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, job_keys, sim_job, sim_stats, wait_for
from tests.e2e.dispatch.conftest import (
    LIMITED_MODEL,
    MODEL_LIMIT,
    PLANS,
    RESERVE,
    RESERVED_LIMIT,
    RESERVED_MODEL,
)
from tests.e2e.invariants import scan_jobs_table

pytestmark = [pytest.mark.e2e]

FREE_LIMIT = PLANS["free"]["maxInFlight"]


def slots_taken(stack: LocalStack) -> list[dict[str, Any]]:
    """The slots held now, from the task items (the truth the counters follow)."""
    return [item["slot"]["M"] for item in scan_jobs_table(stack, FilterExpression="attribute_exists(slot)")]


@contextmanager
def peaks(stack: LocalStack) -> Iterator[Counter[str]]:
    """The most slots held at once, by user and by scope, sampled while the block runs."""
    most: Counter[str] = Counter()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now: Counter[str] = Counter()
            for slot in slots_taken(stack):
                now[slot["user"]["S"]] += 1
                now.update(scope["S"] for scope in slot["scopes"]["L"])
            for name, count in now.items():
                most[name] = max(most[name], count)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield most
    finally:
        done.set()
        sampler.join()


def account(stack: LocalStack, user: str) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(
        TableName=stack.resource("JobsTable"), Key={"pk": {"S": f"USER#{user}"}, "sk": {"S": "CREDITS"}}
    )["Item"]
    return {k: int(v["N"]) for k, v in item.items() if "N" in v}


def assert_credits_exact(stack: LocalStack, app: Client, charged: int) -> None:
    """granted = available + reserved + charged, nothing reserved, nothing left in flight."""
    credits = app.credits()
    assert credits["reserved"] == 0
    assert credits["charged"] == charged
    assert credits["granted"] == credits["available"] + credits["reserved"] + credits["charged"]
    wait_for(lambda: account(stack, app.user).get("inFlight", 0) == 0, what="the user's slots given back")


def submitted_at(job: dict[str, Any]) -> list[str]:
    return [task["submittedAt"] for task in job["tasks"]]


def set_plan(stack: LocalStack, user: str, plan: str) -> None:
    """What an operator's plan assignment writes on the account."""
    stack.client("dynamodb").update_item(
        TableName=stack.resource("JobsTable"),
        Key={"pk": {"S": f"USER#{user}"}, "sk": {"S": "CREDITS"}},
        UpdateExpression="SET #p = :p",
        ExpressionAttributeNames={"#p": "plan"},
        ExpressionAttributeValues={":p": {"S": plan}},
    )


def test_a_users_tasks_in_flight_never_exceed_their_plan_and_all_still_finish(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN a user of the free plan (3 in flight) with a 10-task job allowed to run 10 at once
    app = make_user(20)
    with peaks(stack) as most:
        job_id = app.create(sim_job(10, latency=10) | {"concurrency": 10})["jobId"]
        job = app.wait(job_id, timeout=90)
    # THEN never more than 3 of their tasks were at the provider, and every task completed
    assert 0 < most[app.user] <= FREE_LIMIT, most
    assert job["status"] == "COMPLETED"
    assert job["counts"]["COMPLETED"] == 10
    # AND the waits were holds, not retries: no task was submitted twice, no receive was burnt
    attempts = sim_stats(stack)["submit_attempts_per_key"]
    assert [attempts[key] for key in job_keys(job_id, 10)] == [1] * 10
    assert_credits_exact(stack, app, charged=10)


def held(app: Client, job_id: str) -> bool:
    return "task.held" in [e["kind"] for e in app.events(job_id)]


def held_now(app: Client, job_id: str) -> int:
    """How many of the job's tasks were held and have not reached the provider yet."""
    waited = {e["taskIndex"] for e in app.events(job_id) if e["kind"] == "task.held"}
    return sum(task["index"] in waited and not task.get("submittedAt") for task in app.job(job_id)["tasks"])


def test_a_model_limit_holds_across_users_and_a_newcomer_goes_before_a_big_jobs_later_tasks(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN user A's 6 long tasks on a model limited to 2 at once, the others held (1500 s: 30 s of
    # the test for each wave, so B is held while most of A's are: at 10 s a busy CI machine held B
    # only after A's first wave had ended)
    a, b = make_user(30), make_user(30)
    with peaks(stack) as most:
        big = a.create(sim_job(6, model=LIMITED_MODEL, latency=1500) | {"concurrency": 6})["jobId"]
        wait_for(lambda: held(a, big), timeout=60, what="A's tasks held")
        # WHEN user B asks for one task of the same model, and is held too
        small = b.create(sim_job(1, model=LIMITED_MODEL, latency=1500))["jobId"]
        wait_for(lambda: held(b, small), timeout=60, what="B's task held")
        behind = held_now(a, big)
        small_job = b.wait(small, timeout=120)
        big_job = a.wait(big, timeout=120)
    # THEN the model never had more than 2 tasks at once, across both users
    assert 0 < most[f"simulator/{LIMITED_MODEL}"] <= MODEL_LIMIT, most
    # AND B went before A's later tasks: in queue order it would have waited for every task of A's
    # still held when B was; here it took one of the first slots freed after it arrived (both may
    # free at once, A's oldest may take one when both users have nothing in flight, and the two
    # admitted may reach the submitter in either order)
    assert behind >= 3, f"only {behind} of A's tasks were still held when B's was: too late to tell"
    b_at = submitted_at(small_job)[0]
    assert sum(at > b_at for at in submitted_at(big_job)) >= behind - 2, (behind, b_at, submitted_at(big_job))
    # AND B's timeline shows its wait: held, then admitted to a place of the provider's pool
    b_events = [e for e in b.events(small) if e["kind"] in ("task.held", "task.admitted")]
    assert [e["kind"] for e in b_events] == ["task.held", "task.admitted"]
    assert b_events[1]["detail"]["pool"] == "simulator"
    assert b_events[1]["detail"]["waitedSeconds"] > 0
    # AND everything completed, credits exact
    assert (big_job["status"], small_job["status"]) == ("COMPLETED", "COMPLETED")
    assert_credits_exact(stack, a, charged=6 * 3)
    assert_credits_exact(stack, b, charged=3)


def test_a_newcomer_takes_a_place_kept_for_it_at_once_while_a_big_job_waits_for_its_own(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN a model limited to 3 at once with 1 kept for users with nothing in flight, and user A's
    # 5 long tasks on it (3000 s: a minute of the test; cancelled once B's ended), the ones past
    # A's 2 places held
    a, b = make_user(30), make_user(30)
    with peaks(stack) as most:
        big = a.create(sim_job(5, model=RESERVED_MODEL, latency=3000) | {"concurrency": 5})["jobId"]
        wait_for(lambda: held(a, big), timeout=60, what="A's tasks held")
        # WHEN user B asks for one task of the same model
        small = b.create(sim_job(1, model=RESERVED_MODEL, latency=20))["jobId"]
        small_job = b.wait(small, timeout=120)
        # THEN B's task completed while A's first tasks were still running: it did not wait for one
        # of them to end
        big_job = a.job(big)
        assert small_job["status"] == "COMPLETED"
        assert big_job["counts"]["COMPLETED"] == 0, big_job["counts"]
        a_places = most[a.user]
        assert a.post(f"/jobs/{big}/cancel").status_code == 202
        big_job = a.wait(big, timeout=120)
    # AND A never had more than the places not kept (2), the model never more than 3
    assert a_places == RESERVED_LIMIT - RESERVE, most
    assert most[f"simulator/{RESERVED_MODEL}"] <= RESERVED_LIMIT, most
    # AND none of A's held tasks reached the provider before the cancel
    assert sum(bool(t.get("submittedAt")) for t in big_job["tasks"]) == RESERVED_LIMIT - RESERVE
    # AND credits are exact: B charged for its task, A's cancelled job charged nothing
    assert big_job["status"] == "CANCELLED"
    assert_credits_exact(stack, b, charged=3)
    assert_credits_exact(stack, a, charged=0)


def test_a_higher_plan_goes_first_when_capacity_is_short_and_a_lower_plan_still_completes(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN the limited model kept busy by a free user's long tasks, some held (1000 s: 20 s of the
    # test, so no slot frees before both newcomers are held, however slowly a busy machine creates them)
    busy, free, pro = make_user(30), make_user(30), make_user(30)
    set_plan(stack, pro.user, "pro")
    filler = busy.create(sim_job(4, model=LIMITED_MODEL, latency=1000) | {"concurrency": 4})["jobId"]
    wait_for(lambda: held(busy, filler), timeout=60, what="the filler's tasks held")
    # WHEN a free user's task is held, then a pro user's arrives
    low = free.create(sim_job(1, model=LIMITED_MODEL, latency=20))["jobId"]
    wait_for(lambda: held(free, low), timeout=30, what="the free task held")
    high = pro.create(sim_job(1, model=LIMITED_MODEL, latency=20))["jobId"]
    wait_for(lambda: held(pro, high), timeout=30, what="the pro task held")
    high_job, low_job = pro.wait(high, timeout=180), free.wait(low, timeout=180)
    busy.wait(filler, timeout=180)
    # THEN the pro task was submitted first, though it arrived later; the free one still completed
    assert submitted_at(high_job)[0] < submitted_at(low_job)[0]
    assert (high_job["status"], low_job["status"]) == ("COMPLETED", "COMPLETED")
    assert_credits_exact(stack, pro, charged=3)
    assert_credits_exact(stack, free, charged=3)


def test_a_429_with_a_reset_blocks_the_pool_until_then_and_its_tasks_wait_held(
    stack: LocalStack, make_user: Callable[..., Client]
) -> None:
    # GIVEN a task the provider throttles once with a long reset (the simulator scales its hint to
    # wall seconds: 900 here, 18 s of the test, long enough for a slow machine to create the next job)
    app, other = make_user(10), make_user(10)
    throttled = app.create(sim_job(1, model=LIMITED_MODEL, latency=5, throttle=1, retryAfter=45_000))["jobId"]
    blocked = wait_for(
        lambda: [e for e in app.events(throttled) if e["kind"] == "pool.blocked"], what="the pool blocked"
    )[0]["detail"]["until"]
    # WHEN another user's task of the same provider arrives meanwhile
    waiting = other.create(sim_job(1, latency=5))["jobId"]
    # THEN it waits held, reaches the provider only once the reset has passed, and both complete
    waited = other.wait(waiting, timeout=120)
    assert "task.held" in [e["kind"] for e in other.events(waiting)]
    assert waited["tasks"][0]["submittedAt"] >= blocked
    assert app.wait(throttled, timeout=120)["status"] == waited["status"] == "COMPLETED"
    # AND the throttled task was created once after its 429, nothing dead-lettered
    assert sim_stats(stack)["submit_attempts_per_key"][f"{throttled}:0"] == 2
    dlq = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resource("SubmitDLQ"), AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert_credits_exact(stack, app, charged=3)
    assert_credits_exact(stack, other, charged=1)
