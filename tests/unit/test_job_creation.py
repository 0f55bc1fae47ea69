"""Creating a job: an exact plan, its credits reserved with it or nothing at all, its workflow started."""

from __future__ import annotations

import pytest

from genjobs.logic import jobs
from genjobs.logic.errors import InvalidRequest, PaymentRequired
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import JobStatus, LedgerKind
from tests.unit.fakes import FakeDeps, fake_deps
from tests.unit.scenario import USER, created, granted, invariant_holds


def request(n: int = 3, **extra: object) -> CreateJobRequest:
    return CreateJobRequest(
        provider="simulator", model="sim-image", tasks=[{"seed": i} for i in range(n)], **extra
    )


def test_creating_a_job_reserves_its_price_times_its_tasks(deps: FakeDeps) -> None:
    # GIVEN alice with 10 credits
    granted(deps, 10)
    # WHEN she creates a 3-task job of a 1-credit model
    view = jobs.create_job(deps, USER, request(3), None)
    # THEN 3 credits are reserved, 7 stay available, and the job says so
    account = deps.credits.account(USER)
    assert (account.available, account.reserved, account.charged) == (7, 3, 0)
    assert view.credits.reserved == 3
    assert invariant_holds(deps)


@pytest.mark.parametrize(
    ("model", "n", "reserved"), [("sim-image", 4, 4), ("sim-3d", 2, 6), ("sim-video", 1, 5)]
)
def test_the_reservation_is_the_model_price_times_the_task_count(
    deps: FakeDeps, model: str, n: int, reserved: int
) -> None:
    granted(deps, 10)
    created(deps, n, model=model)
    assert deps.credits.account(USER).reserved == reserved


def test_a_reservation_is_one_ledger_entry(deps: FakeDeps) -> None:
    granted(deps, 10)
    job_id = created(deps, 3)
    reserves = [e for e in deps.credits.ledger(USER) if e.kind == LedgerKind.RESERVE]
    assert [(e.job_id, e.amount) for e in reserves] == [(job_id, 3)]


def test_a_job_over_the_available_credits_is_refused_and_changes_nothing(deps: FakeDeps) -> None:
    # GIVEN alice with 2 credits
    granted(deps, 2)
    before = deps.credits.account(USER)
    # WHEN she asks for 3 tasks
    with pytest.raises(PaymentRequired) as refused:
        jobs.create_job(deps, USER, request(3), None)
    # THEN she is told what is needed and what she has; no job, no reservation, no workflow
    assert "needs 3" in str(refused.value.errors)
    assert "available 2" in str(refused.value.errors)
    assert deps.credits.account(USER) == before
    assert deps.world.jobs == {}
    assert deps.workflow.started == []
    assert [e.kind for e in deps.credits.ledger(USER)] == [LedgerKind.GRANT]


def test_a_job_that_takes_exactly_the_available_credits_is_accepted(deps: FakeDeps) -> None:
    granted(deps, 3)
    created(deps, 3)
    assert deps.credits.account(USER).available == 0


def test_a_user_without_credits_cannot_create_a_job(deps: FakeDeps) -> None:
    with pytest.raises(PaymentRequired):
        jobs.create_job(deps, USER, request(1), None)


def test_creation_starts_the_job_workflow_named_after_the_job(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 2)
    assert deps.workflow.started == [job_id]
    assert deps.world.kinds(job_id) == ["job.created"]


def test_creation_writes_no_task_item_the_workflow_expands_the_plan(deps: FakeDeps) -> None:
    granted(deps, 100)
    job_id = created(deps, 50)
    assert deps.world.tasks == {}
    assert deps.world.jobs[job_id].counts.pending == 50


def test_the_creation_answer_lists_every_planned_task_pending(deps: FakeDeps) -> None:
    granted(deps)
    view = jobs.create_job(deps, USER, request(3), None)
    assert [(t.index, t.status, t.input["seed"]) for t in view.tasks] == [
        (0, "PENDING", 0),
        (1, "PENDING", 1),
        (2, "PENDING", 2),
    ]


def test_a_failed_workflow_start_still_creates_the_job_for_the_sweeper_to_start(deps: FakeDeps) -> None:
    # GIVEN Step Functions refusing the start
    granted(deps)
    deps.workflow.start_fails = True
    # WHEN alice creates a job
    job_id = created(deps, 1)
    # THEN the job exists, PENDING, with its credits, and the sweeper will find it
    assert deps.world.jobs[job_id].status == JobStatus.PENDING
    assert deps.credits.account(USER).reserved == 1
    assert job_id in deps.world.job_marks


@pytest.mark.parametrize(
    ("provider", "model", "field"),
    [("nobody", "sim-image", "provider"), ("simulator", "no-such-model", "model")],
)
def test_an_unknown_provider_or_model_is_refused_before_anything_is_reserved(
    deps: FakeDeps, provider: str, model: str, field: str
) -> None:
    granted(deps)
    with pytest.raises(InvalidRequest) as refused:
        jobs.create_job(deps, USER, CreateJobRequest(provider=provider, model=model, tasks=[{}]), None)
    assert refused.value.errors[0]["field"] == field
    assert deps.credits.account(USER).reserved == 0


def test_a_large_plan_is_kept_in_storage_not_in_the_job(deps: FakeDeps) -> None:
    granted(deps, 100)
    big = CreateJobRequest(
        provider="simulator", model="sim-image", tasks=[{"prompt": "x" * 100} for _ in range(20)]
    )
    job_id = jobs.create_job(deps, USER, big, None).job_id
    job = deps.world.jobs[job_id]
    assert job.plan is None
    assert job.spec_key == jobs.spec_key(job_id)
    assert len(deps.storage.get_json(job.spec_key)["plan"]["tasks"]) == 20


@pytest.mark.parametrize(("asked", "kept"), [(None, 10), (5, 5), (50, 20)])
def test_concurrency_defaults_and_is_capped(asked: int | None, kept: int) -> None:
    deps = fake_deps(MAX_JOB_CONCURRENCY=20)
    granted(deps)
    job_id = created(deps, 1, concurrency=asked)
    assert deps.world.jobs[job_id].concurrency == kept


def test_jobs_of_one_user_are_listed_newest_first_and_only_theirs(deps: FakeDeps) -> None:
    granted(deps, 10)
    granted(deps, 10, user="bob")
    first, second = created(deps, 1), created(deps, 1)
    created(deps, 1, user="bob")
    listed = jobs.list_jobs(deps, USER, status=None, collection_id=None, limit=10, cursor=None)
    assert [j.job_id for j in listed.items] == [second, first]


def test_a_job_item_with_a_spec_kept_inline_stays_within_one_write_unit(deps: FakeDeps) -> None:
    from boto3.dynamodb.types import TypeSerializer

    from genjobs.dal.items import job_to_item
    from genjobs_local.metering import item_size

    # GIVEN jobs whose plan and common input are as large as is kept in the job item, and larger
    granted(deps, 100)
    for prompt in ("x" * (jobs.INLINE_SPEC_BYTES - 80), "x" * 600):
        request = CreateJobRequest(
            provider="simulator", model="sim-image", input={"prompt": prompt}, matrix={"seed": [1, 2, 3]}
        )
        job_id = jobs.create_job(deps, USER, request, "album-1-run-1-" + str(len(prompt))).job_id
        # WHEN it is stored
        item = {k: TypeSerializer().serialize(v) for k, v in job_to_item(deps.world.jobs[job_id]).items()}
        # THEN its item takes one 1 KB write unit, which every transition of its tasks rewrites
        assert item_size(item) <= 1024, len(prompt)
