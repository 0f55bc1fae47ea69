"""Fair dispatch's arithmetic on the real table (moto): an admission takes one place in its user's
plan and in each limited pool, or none; a task's end gives them back once; the dispatcher admits
held tasks up to the limit and hands their tokens back; parked tokens are kept alive; a counter
that drifted is recounted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

from genjobs import deps as deps_module
from genjobs.deps import Deps
from genjobs.logic import dispatch
from genjobs.logic.admission import admission_of, pools_of
from genjobs.logic.plans import plan_of
from genjobs.logic.task_end import end_task
from genjobs.models.domain import Job, TaskStatus
from genjobs.models.limits import PlanLimits
from genjobs.models.persistence import Held, Refused
from genjobs.settings import Settings
from tests.integration.test_task_outcomes import prepared_job
from tests.unit.fakes import FakeDispatchQueue, FakeSubmitQueue, FakeWorkflow

MODEL_LIMIT = 2
SCOPE = "simulator/sim-image"


@pytest.fixture
def fair(deps: Deps) -> Deps:
    """Deps with a plan of 3 in flight, sim-image limited to 2, and in-memory queues and workflow."""
    return fair_deps(deps, {"concurrency": MODEL_LIMIT})


@pytest.fixture
def reserved(deps: Deps) -> Deps:
    """As `fair`, with sim-image limited to 3, of which 1 is kept for users with nothing in flight."""
    return fair_deps(deps, {"concurrency": 3, "reserve": 1})


def fair_deps(deps: Deps, model_limits: dict[str, int]) -> Deps:
    queue = boto3.client("sqs").create_queue(QueueName="dispatch")["QueueUrl"]
    settings = Settings.model_validate(
        {
            **{
                f.alias: getattr(deps.settings, n)
                for n, f in Settings.model_fields.items()
                if n in deps.settings.__dict__
            },
            "DISPATCH_QUEUE_URL": queue,
            "PLANS": {"free": PlanLimits(maxInFlight=3).model_dump(by_alias=True)},
            "DEFAULT_PLAN": "free",
            "PROVIDER_LIMITS": {SCOPE: model_limits},
        }
    )
    d = Deps(settings=settings)
    d.__dict__.update(
        submit_queue=FakeSubmitQueue(), dispatch_queue=FakeDispatchQueue(), workflow=FakeWorkflow()
    )
    deps_module.override(d)  # the integration fixture forgets it at the end
    return d


def admit(deps: Deps, job: Job, index: int) -> None:
    admission = admission_of(deps, job, index)
    deps.slots.admit(admission, pools_of(deps, admission))


def in_flight(deps: Deps, user: str) -> tuple[int, int]:
    """(the user's, the limited model's) places taken."""
    return deps.credits.account(user).in_flight, deps.slots.pool(SCOPE).in_flight


def test_an_admission_takes_a_place_per_limit_and_is_refused_past_the_first_full_one(fair: Deps) -> None:
    # GIVEN a job of 3 tasks on a model limited to 2 at once
    job = prepared_job(fair, "u1", 3)
    # WHEN its tasks are admitted
    admit(fair, job, 0)
    admit(fair, job, 1)
    # THEN the third is refused, naming the model's pool, and nothing of it was taken
    with pytest.raises(Refused) as refused:
        admit(fair, job, 2)
    assert refused.value.what == SCOPE
    assert in_flight(fair, "u1") == (2, 2)
    task = fair.tasks.get(job.job_id, 2)
    assert task is not None
    assert task.slot is None
    # AND a task already holding its slot is not admitted twice
    with pytest.raises(Refused) as again:
        admit(fair, job, 0)
    assert again.value.what == "task"


def test_a_plans_limit_refuses_the_user_past_it(fair: Deps) -> None:
    job = prepared_job(fair, "u2", 4)
    free_model = job.model_copy(update={"model": "sim-3d"})  # no limit of its own
    for index in range(3):
        admit(fair, free_model, index)
    with pytest.raises(Refused) as refused:
        admit(fair, free_model, 3)
    assert refused.value.what == "user"
    assert fair.credits.account("u2").in_flight == 3


def test_a_tasks_end_gives_its_places_back_once_with_its_credits(fair: Deps) -> None:
    # GIVEN an admitted task
    job = prepared_job(fair, "u3", 1)
    admit(fair, job, 0)
    task = fair.tasks.get(job.job_id, 0)
    assert task is not None
    assert task.slot is not None
    # WHEN it ends, twice (a replay)
    assert end_task(fair, job, task, TaskStatus.FAILED, "task.failed", error="boom")
    assert not end_task(fair, job, task, TaskStatus.FAILED, "task.failed", error="boom")
    # THEN its places were given back once, and its credits released; nothing waits: no pass
    assert in_flight(fair, "u3") == (0, 0)
    assert fair.dispatch_queue.nudges == []
    account = fair.credits.account("u3")
    assert (account.available, account.reserved) == (10, 0)


def test_a_tasks_end_calls_a_dispatcher_pass_only_while_tasks_wait_in_its_pool(fair: Deps) -> None:
    # GIVEN the model's two places taken and a third task held for one
    job = prepared_job(fair, "u9", 3)
    admit(fair, job, 0)
    admit(fair, job, 1)
    assert fair.slots.hold(Held(job.job_id, 2, "u9", 0, fair.clock.now()), "simulator", "token-2")
    assert fair.slots.pool("simulator").held == 1
    first, second = fair.tasks.get(job.job_id, 0), fair.tasks.get(job.job_id, 1)
    assert first is not None
    assert second is not None
    # WHEN one ends
    assert end_task(fair, job, first, TaskStatus.COMPLETED, "task.completed")
    # THEN the dispatcher is nudged, and its pass admits the held task: nothing waits any more
    assert fair.dispatch_queue.nudges == [("simulator", None, 0)]
    assert dispatch.dispatch_pool(fair, "simulator") == 1
    assert fair.slots.pool("simulator").held == 0
    # AND the next end calls no pass
    assert end_task(fair, job, second, TaskStatus.COMPLETED, "task.completed")
    assert fair.dispatch_queue.nudges == [("simulator", None, 0)]


def test_a_pass_skips_the_tasks_of_a_full_model_without_a_transaction_or_a_read_each(
    fair: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the model's two places taken, and 6 tasks of two users held for it
    jobs = [prepared_job(fair, user, 5) for user in ("u12", "u13")]
    admit(fair, jobs[0], 0)
    admit(fair, jobs[0], 1)
    now = fair.clock.now()
    for n, (job, index) in enumerate(
        [(jobs[0], 2), (jobs[0], 3), (jobs[0], 4), *((jobs[1], i) for i in range(3))]
    ):
        held = Held(job.job_id, index, job.user_id, 0, now + timedelta(seconds=n))
        assert fair.slots.hold(held, "simulator", f"token-{n}")
    calls: dict[str, int] = {"admit": 0, "account": 0, "pool": 0}

    def counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return method(*args, **kwargs)

        return call

    monkeypatch.setattr(fair.slots, "admit", counted("admit", fair.slots.admit))
    monkeypatch.setattr(fair.slots, "pool", counted("pool", fair.slots.pool))
    monkeypatch.setattr(fair.credits, "account", counted("account", fair.credits.account))
    # WHEN the dispatcher passes
    assert dispatch.dispatch_pool(fair, "simulator") == 0
    # THEN no transaction was tried (it would be refused), each waiting user's account and each
    # pool was read once, and all six still wait
    assert calls == {"admit": 0, "account": 2, "pool": 2}
    assert len(fair.slots.held("simulator")) == 6


def test_a_held_count_that_drifted_is_recounted_from_the_tasks_held(fair: Deps) -> None:
    # GIVEN one task held, and the provider's count of held tasks left at 3
    job = prepared_job(fair, "u10", 1)
    assert fair.slots.hold(Held(job.job_id, 0, "u10", 0, fair.clock.now()), "simulator", "token-0")
    assert fair.slots.recount_held("simulator") is False  # right as it is
    table = boto3.resource("dynamodb").Table(fair.settings.table_name)
    table.update_item(
        Key={"pk": "POOL#simulator", "sk": "POOL"},
        UpdateExpression="SET held = :n",
        ExpressionAttributeValues={":n": 3},
    )
    # WHEN the counters are recounted
    dispatch.recount(fair, ["simulator"])
    # THEN it counts the one task held, and taking its token off leaves none
    assert fair.slots.pool("simulator").held == 1
    assert fair.slots.unhold(job.job_id, 0) == "token-0"
    assert fair.slots.pool("simulator").held == 0


def test_an_end_read_before_the_admission_still_gives_the_slot_back(fair: Deps) -> None:
    # GIVEN a task read before it was admitted (a cancel racing the dispatcher)
    job = prepared_job(fair, "u4", 1)
    stale = fair.tasks.get(job.job_id, 0)
    assert stale is not None
    admit(fair, job, 0)
    # WHEN it ends from that stale read
    assert end_task(fair, job, stale, TaskStatus.CANCELLED, "task.cancelled", reason="job cancelled")
    # THEN the slot it held by then was given back
    assert in_flight(fair, "u4") == (0, 0)


def test_the_dispatcher_admits_held_tasks_up_to_the_limit_and_hands_their_tokens_back(fair: Deps) -> None:
    # GIVEN 3 tasks held in the simulator's pool, 300, 200 and 100 s ago
    job = prepared_job(fair, "u5", 3)
    now = fair.clock.now()
    for index in range(3):
        held = Held(job.job_id, index, "u5", 0, now - timedelta(seconds=100 * (3 - index)))
        assert fair.slots.hold(held, "simulator", f"token-{index}")
    # WHEN the dispatcher passes
    assert dispatch.dispatch_pool(fair, "simulator") == MODEL_LIMIT
    # THEN the two oldest went to the submitter with their own tokens; the third still waits
    assert [(m.task_index, m.task_token) for m in fair.submit_queue.sent] == [(0, "token-0"), (1, "token-1")]
    assert [h.index for h in fair.slots.held("simulator")] == [2]
    assert in_flight(fair, "u5") == (2, 2)
    # AND the job's timeline says when each got its place, and how long it waited for it (to the
    # ten seconds: a loaded machine took more than a second to read and admit)
    admitted = [
        e for e in fair.timeline.page(job.job_id, limit=100, start=None).items if e.kind == "task.admitted"
    ]
    assert sorted(e.task_index for e in admitted) == [0, 1]
    assert {(e.task_index, e.detail["pool"], int(e.detail["waitedSeconds"]) // 10) for e in admitted} == {
        (0, "simulator", 30),
        (1, "simulator", 20),
    }


def test_a_held_token_is_kept_alive_past_half_its_heartbeat_and_not_again_until_then(fair: Deps) -> None:
    # GIVEN a task held for longer than half the heartbeat interval
    job = prepared_job(fair, "u6", 1)
    long_ago = fair.clock.now() - timedelta(seconds=fair.settings.heartbeat_seconds)
    assert fair.slots.hold(Held(job.job_id, 0, "u6", 0, long_ago), "simulator", "token-held")
    # WHEN the scheduled pass keeps tokens alive, twice
    assert dispatch.keep_alive(fair, ["simulator"]) == 1
    assert dispatch.keep_alive(fair, ["simulator"]) == 0
    # THEN the token got one heartbeat
    assert fair.workflow.heartbeats == ["token-held"]


def test_a_recount_does_not_set_a_counter_moved_while_it_counted(fair: Deps) -> None:
    # GIVEN a counter read before counting, then moved by an admission and a release (back to
    # the same number)
    job = prepared_job(fair, "u8", 2)
    admit(fair, job, 0)
    _, revision = fair.slots.counter(("pool", SCOPE))
    admit(fair, job, 1)
    task = fair.tasks.get(job.job_id, 1)
    assert task is not None
    end_task(fair, job, task, TaskStatus.COMPLETED, "task.completed")
    # THEN a repair from the old reading sets nothing
    assert not fair.slots.repair(("pool", SCOPE), revision, 5)
    assert fair.slots.pool(SCOPE).in_flight == 1


def test_a_counter_that_drifted_is_recounted_from_the_slots_held(fair: Deps) -> None:
    # GIVEN one task holding a slot, and the model's counter left at 2 (a crash between two steps)
    job = prepared_job(fair, "u7", 1)
    admit(fair, job, 0)
    assert fair.slots.repair(("pool", SCOPE), fair.slots.counter(("pool", SCOPE))[1], 2)
    # WHEN the counters are recounted
    dispatch.recount(fair, ["simulator"])
    # THEN it counts the one slot held
    assert fair.slots.pool(SCOPE).in_flight == 1


# ------------------------------------------------------------------------------ a limit's reserve
def test_a_limits_reserved_places_go_only_to_users_with_nothing_in_flight(reserved: Deps) -> None:
    # GIVEN a model limited to 3 at once, 1 of them kept for users with nothing in flight, and a
    # big job of user A
    big = prepared_job(reserved, "ra", 3)
    # WHEN A's tasks are admitted
    admit(reserved, big, 0)
    admit(reserved, big, 1)
    # THEN A stops at 2: the third place is not for a user with tasks in flight
    with pytest.raises(Refused) as refused:
        admit(reserved, big, 2)
    assert refused.value.what == SCOPE
    assert in_flight(reserved, "ra") == (2, 2)
    # AND user B, with nothing in flight, takes it at once; B's second task may not
    small = prepared_job(reserved, "rb", 2)
    admit(reserved, small, 0)
    assert in_flight(reserved, "rb") == (1, 3)
    with pytest.raises(Refused) as full:
        admit(reserved, small, 1)
    assert full.value.what == SCOPE


def test_a_user_that_took_a_place_since_it_was_read_is_refused_a_reserved_one(reserved: Deps) -> None:
    # GIVEN A with one task in flight, and both of B's tasks' admissions read while B had none
    admit(reserved, prepared_job(reserved, "rc", 1), 0)
    small = prepared_job(reserved, "rd", 2)
    first, second = admission_of(reserved, small, 0), admission_of(reserved, small, 1)
    assert (first.newcomer, second.newcomer) == (True, True)
    # WHEN both are written, one after the other
    reserved.slots.admit(first, pools_of(reserved, first))
    # THEN the second is refused as the user's: B has a task in flight now, so the place left (the
    # reserved one) is not B's
    with pytest.raises(Refused) as refused:
        reserved.slots.admit(second, pools_of(reserved, second))
    assert refused.value.what == "user"
    assert in_flight(reserved, "rd") == (1, 2)


def test_a_newcomers_tasks_arriving_at_once_are_not_refused_where_no_reserved_place_is_needed(
    reserved: Deps,
) -> None:
    # GIVEN an idle model, and both of B's tasks' admissions read while B had nothing in flight
    small = prepared_job(reserved, "rg", 2)
    first, second = admission_of(reserved, small, 0), admission_of(reserved, small, 1)
    # WHEN both are written
    reserved.slots.admit(first, pools_of(reserved, first))
    reserved.slots.admit(second, pools_of(reserved, second))
    # THEN both took a place open to everyone: neither needed the newcomer's condition
    assert in_flight(reserved, "rg") == (2, 2)


def test_a_pass_gives_the_reserved_place_to_a_newcomer_before_a_higher_plan_with_tasks_in_flight(
    reserved: Deps,
) -> None:
    # GIVEN A's 2 tasks in flight (all but the reserve) and 2 more held at a higher priority,
    # held before B's task
    big = prepared_job(reserved, "re", 4)
    admit(reserved, big, 0)
    admit(reserved, big, 1)
    now = reserved.clock.now()
    for index in (2, 3):
        assert reserved.slots.hold(
            Held(big.job_id, index, "re", 20, now - timedelta(seconds=10)), "simulator", f"a-{index}"
        )
    small = prepared_job(reserved, "rf", 1)
    assert reserved.slots.hold(Held(small.job_id, 0, "rf", 0, now), "simulator", "b-0")
    # WHEN the dispatcher passes
    assert dispatch.dispatch_pool(reserved, "simulator") == 1
    # THEN B's task took the reserved place, and A's still wait
    assert [(m.job_id, m.task_token) for m in reserved.submit_queue.sent] == [(small.job_id, "b-0")]
    assert sorted(h.index for h in reserved.slots.held("simulator")) == [2, 3]
    assert in_flight(reserved, "re") == (2, 3)


def test_a_pass_that_finds_its_choice_taken_by_another_pass_chooses_again_by_the_truth(
    fair: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN user A's 3 tasks held before user B's 1, both users with nothing in flight, the model
    # (2 at once) free
    big, small = prepared_job(fair, "rh", 3), prepared_job(fair, "ri", 1)
    now = fair.clock.now()
    for index in range(3):
        assert fair.slots.hold(
            Held(big.job_id, index, "rh", 0, now - timedelta(seconds=10 - index)), "simulator", f"a-{index}"
        )
    assert fair.slots.hold(Held(small.job_id, 0, "ri", 0, now), "simulator", "b-0")
    # AND another pass that, after this one read who waits and who has what in flight, admits A's
    # oldest task (the same choice)
    other = dispatch._Pass(fair, "simulator", plans={"rh": plan_of(fair, "rh")}, in_flight={"rh": 0})
    read_job = dispatch._Pass.job
    raced: list[bool] = []

    def job_then_race(self: dispatch._Pass, job_id: str) -> Job | None:
        if self is not other and not raced:
            raced.append(other.release(fair.slots.held("simulator")[0]))
        return read_job(self, job_id)

    monkeypatch.setattr(dispatch._Pass, "job", job_then_race)
    # WHEN this pass runs
    dispatch.dispatch_pool(fair, "simulator")
    # THEN the other pass took A's first task, and this one, finding it taken, gave the model's
    # other place to B (A had one in flight by then, B none), not to A's next task
    assert raced == [True]
    assert sorted((m.job_id, m.task_index) for m in fair.submit_queue.sent) == sorted(
        [(big.job_id, 0), (small.job_id, 0)]
    )
    assert in_flight(fair, "ri") == (1, 2)
