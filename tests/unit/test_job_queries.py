"""Reading jobs back: the listing's filters and pages, one job's tasks and events, and what another
user may not see."""

from __future__ import annotations

import pytest

from genjobs.logic import jobs
from genjobs.logic.cursors import InvalidCursor
from genjobs.logic.errors import InvalidRequest, NotFound
from genjobs.logic.preparation import prepare
from genjobs.models.domain import JobStatus, TaskStatus
from tests.unit.fakes import FakeDeps
from tests.unit.scenario import USER, created, granted, prepared, task_succeeded

BOB = "bob"


def listed(
    deps: FakeDeps,
    user: str = USER,
    *,
    status: str | None = None,
    collection: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> list[str]:
    page = jobs.list_jobs(deps, user, status=status, collection_id=collection, limit=limit, cursor=cursor)
    return [j.job_id for j in page.items]


def with_status(deps: FakeDeps, status: JobStatus) -> str:
    """A job of one task whose status is `status` (set directly: the listing reads only the item)."""
    job_id = created(deps, 1)
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"status": status})
    return job_id


@pytest.fixture
def one_of_each(deps: FakeDeps) -> dict[JobStatus, str]:
    granted(deps, 20)
    return {status: with_status(deps, status) for status in JobStatus}


def test_without_a_status_filter_every_job_of_the_user_is_listed(
    deps: FakeDeps, one_of_each: dict[JobStatus, str]
) -> None:
    assert set(listed(deps)) == set(one_of_each.values())


def test_active_lists_the_jobs_still_running(deps: FakeDeps, one_of_each: dict[JobStatus, str]) -> None:
    # WHEN the user asks for their active jobs
    found = set(listed(deps, status="active"))
    # THEN pending, processing and cancelling jobs are listed, no finished one
    assert found == {one_of_each[s] for s in (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.CANCELLING)}


def test_finished_lists_the_jobs_that_ended(deps: FakeDeps, one_of_each: dict[JobStatus, str]) -> None:
    found = set(listed(deps, status="finished"))
    assert found == {one_of_each[s] for s in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)}


@pytest.mark.parametrize("status", list(JobStatus))
def test_one_status_lists_only_its_jobs(
    deps: FakeDeps, one_of_each: dict[JobStatus, str], status: JobStatus
) -> None:
    assert listed(deps, status=status.value) == [one_of_each[status]]


def test_a_status_is_read_in_any_case(deps: FakeDeps, one_of_each: dict[JobStatus, str]) -> None:
    assert listed(deps, status="completed") == [one_of_each[JobStatus.COMPLETED]]


def test_comma_separated_statuses_list_the_union(deps: FakeDeps, one_of_each: dict[JobStatus, str]) -> None:
    # WHEN two statuses are asked for, with spaces after the comma
    found = set(listed(deps, status="FAILED, CANCELLED"))
    # THEN jobs of either are listed
    assert found == {one_of_each[JobStatus.FAILED], one_of_each[JobStatus.CANCELLED]}


def test_a_word_and_a_status_combine(deps: FakeDeps, one_of_each: dict[JobStatus, str]) -> None:
    found = set(listed(deps, status="active,COMPLETED"))
    assert one_of_each[JobStatus.COMPLETED] in found
    assert one_of_each[JobStatus.FAILED] not in found
    assert len(found) == 4


@pytest.mark.parametrize("status", ["done", "active,nope", "PENDING;"])
def test_an_unknown_status_is_refused_naming_the_field(deps, status: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        listed(deps, status=status)
    assert refused.value.errors[0]["field"] == "status"
    assert "active, finished" in refused.value.errors[0]["reason"]


def test_the_collection_filter_lists_only_that_collection(deps: FakeDeps) -> None:
    # GIVEN jobs in two collections and one in none
    granted(deps)
    cats = created(deps, 1, collectionId="cats")
    created(deps, 1, collectionId="dogs")
    created(deps, 1)
    # WHEN the user lists the collection "cats"
    # THEN only its job is listed
    assert listed(deps, collection="cats") == [cats]


def test_a_collection_and_a_status_filter_both_apply(deps: FakeDeps) -> None:
    granted(deps)
    created(deps, 1, collectionId="cats")
    running = created(deps, 1, collectionId="cats")
    deps.world.jobs[running] = deps.world.jobs[running].model_copy(update={"status": JobStatus.PROCESSING})
    assert listed(deps, status="PROCESSING", collection="cats") == [running]


def test_another_users_jobs_are_never_listed(deps: FakeDeps) -> None:
    granted(deps, user=BOB)
    created(deps, 1, user=BOB)
    assert listed(deps) == []


def test_jobs_are_paged_newest_first_with_a_cursor_until_the_last(deps: FakeDeps) -> None:
    # GIVEN five jobs
    granted(deps)
    made = [created(deps, 1) for _ in range(5)]
    # WHEN they are read two by two
    first = jobs.list_jobs(deps, USER, status=None, collection_id=None, limit=2, cursor=None)
    second = jobs.list_jobs(deps, USER, status=None, collection_id=None, limit=2, cursor=first.cursor)
    third = jobs.list_jobs(deps, USER, status=None, collection_id=None, limit=2, cursor=second.cursor)
    # THEN the pages hold every job once, newest first, and the last page has no cursor
    pages = [[j.job_id for j in p.items] for p in (first, second, third)]
    assert pages == [made[4:2:-1], made[2:0:-1], made[:1]]
    assert first.cursor
    assert second.cursor
    assert third.cursor is None


def test_a_jobs_cursor_is_refused_for_another_user(deps: FakeDeps) -> None:
    granted(deps)
    created(deps, 1), created(deps, 1)
    page = jobs.list_jobs(deps, USER, status=None, collection_id=None, limit=1, cursor=None)
    with pytest.raises(InvalidCursor):
        jobs.list_jobs(deps, BOB, status=None, collection_id=None, limit=1, cursor=page.cursor)


def test_a_jobs_cursor_is_refused_by_a_tasks_listing(deps: FakeDeps) -> None:
    # GIVEN a cursor of the jobs listing
    granted(deps)
    job_id = created(deps, 1)
    created(deps, 1)
    page = jobs.list_jobs(deps, USER, status=None, collection_id=None, limit=1, cursor=None)
    # WHEN it is given to a job's task listing THEN it is refused as a cursor
    with pytest.raises(InvalidCursor) as refused:
        jobs.list_tasks(deps, USER, job_id, 10, page.cursor)
    assert refused.value.errors == [{"field": "cursor", "reason": refused.value.errors[0]["reason"]}]


def test_a_tasks_cursor_is_refused_for_another_jobs_tasks(deps: FakeDeps) -> None:
    granted(deps)
    one, other = prepared(deps, 3), prepared(deps, 3)
    page = jobs.list_tasks(deps, USER, one, 1, None)
    with pytest.raises(InvalidCursor):
        jobs.list_tasks(deps, USER, other, 1, page.cursor)


@pytest.fixture
def bobs_job(deps: FakeDeps) -> str:
    granted(deps, user=BOB)
    return prepared(deps, 2, user=BOB)


def test_another_users_job_is_not_found(deps: FakeDeps, bobs_job: str) -> None:
    with pytest.raises(NotFound):
        jobs.get_job(deps, USER, bobs_job)


def test_another_users_tasks_are_not_found(deps: FakeDeps, bobs_job: str) -> None:
    with pytest.raises(NotFound):
        jobs.list_tasks(deps, USER, bobs_job, 10, None)


def test_another_users_events_are_not_found(deps: FakeDeps, bobs_job: str) -> None:
    with pytest.raises(NotFound):
        jobs.list_events(deps, USER, bobs_job, 10, None)


@pytest.mark.parametrize("job_id", ["not-a-job-id", "00000000-0000-4000-8000-000000000000"])
def test_a_job_id_that_names_no_job_is_not_found(deps: FakeDeps, job_id: str) -> None:
    with pytest.raises(NotFound):
        jobs.get_job(deps, USER, job_id)


def test_the_owner_reads_their_job_with_its_tasks(deps: FakeDeps, bobs_job: str) -> None:
    detail = jobs.get_job(deps, BOB, bobs_job)
    assert detail.job_id == bobs_job
    assert [t.index for t in detail.tasks] == [0, 1]


def test_a_jobs_events_start_with_its_creation_and_page_with_a_cursor(deps: FakeDeps) -> None:
    # GIVEN a job created and prepared (at least two events)
    granted(deps)
    job_id = prepared(deps, 2)
    # WHEN its events are read one at a time
    first = jobs.list_events(deps, USER, job_id, 1, None)
    rest = jobs.list_events(deps, USER, job_id, 100, first["cursor"])
    # THEN the first is the creation, and the cursor continues after it
    assert first["items"][0]["kind"] == "job.created"
    assert "jobId" not in first["items"][0]
    kinds = [e.kind for e in deps.world.events if e.job_id == job_id]
    assert [e["kind"] for e in first["items"] + rest["items"]] == kinds
    assert rest["cursor"] is None


def test_an_events_cursor_is_refused_by_another_user(deps: FakeDeps) -> None:
    granted(deps)
    job_id = prepared(deps, 2)
    first = jobs.list_events(deps, USER, job_id, 1, None)
    with pytest.raises(InvalidCursor):
        jobs.list_events(deps, BOB, job_id, 1, first["cursor"])


def test_planned_tasks_are_listed_before_the_job_is_prepared(deps: FakeDeps) -> None:
    # GIVEN a job whose workflow has not written its tasks yet
    granted(deps)
    job_id = created(deps, 3)
    # WHEN its tasks are listed
    page = jobs.list_tasks(deps, USER, job_id, 10, None)
    # THEN every planned task is there, pending, with its input
    assert [(t.index, t.status, t.input) for t in page.items] == [
        (i, TaskStatus.PENDING, {"seed": i}) for i in range(3)
    ]
    assert page.cursor is None


def test_a_cursor_from_planned_tasks_continues_after_the_job_is_prepared(deps: FakeDeps) -> None:
    # GIVEN the first page of a job's tasks read before PrepareJob
    granted(deps)
    job_id = created(deps, 5)
    first = jobs.list_tasks(deps, USER, job_id, 2, None)
    # WHEN PrepareJob runs and the next pages are read with the same cursors
    prepare(deps, job_id)
    second = jobs.list_tasks(deps, USER, job_id, 2, first.cursor)
    third = jobs.list_tasks(deps, USER, job_id, 2, second.cursor)
    # THEN every index is listed once, in order
    assert [t.index for p in (first, second, third) for t in p.items] == [0, 1, 2, 3, 4]
    assert third.cursor is None


def test_a_task_written_before_the_rest_shows_its_own_state_among_the_planned(deps: FakeDeps) -> None:
    # GIVEN a job whose task 1 finished while its job is not marked prepared
    granted(deps)
    job_id = prepared(deps, 3)
    task_succeeded(deps, job_id, 1)
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"prepared": False})
    del deps.world.tasks[(job_id, 2)]
    # WHEN the tasks are listed
    page = jobs.list_tasks(deps, USER, job_id, 10, None)
    # THEN the written tasks show their state and the missing one is planned
    assert [t.status for t in page.items] == [TaskStatus.PENDING, TaskStatus.COMPLETED, TaskStatus.PENDING]


def test_planned_tasks_of_a_cancelled_job_show_as_cancelled(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 2)
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"status": JobStatus.CANCELLED})
    page = jobs.list_tasks(deps, USER, job_id, 10, None)
    assert {t.status for t in page.items} == {TaskStatus.CANCELLED}
    assert page.items[0].error == "the job ended before this task started"


def test_planned_tasks_of_a_failed_job_show_as_failed(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 2)
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"status": JobStatus.FAILED})
    assert {t.status for t in jobs.list_tasks(deps, USER, job_id, 10, None).items} == {TaskStatus.FAILED}


def test_planned_tasks_of_a_plan_kept_in_storage_are_read_from_it(deps: FakeDeps) -> None:
    # GIVEN a job whose plan is over the inline size, so kept in storage
    granted(deps, 100)
    job_id = created(deps, 40, input={"prompt": "x" * 2000})
    assert deps.world.jobs[job_id].spec_key is not None
    # WHEN its tasks are listed before PrepareJob
    page = jobs.list_tasks(deps, USER, job_id, 2, None)
    # THEN they carry the stored common input merged with their own
    assert [t.input for t in page.items] == [{"prompt": "x" * 2000, "seed": i} for i in range(2)]
