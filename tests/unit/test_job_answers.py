"""What a job's owner reads: the creation answer and job views (progress, counts, outputs), the plan's
limits, and cursors that say nothing of what they hold."""

from __future__ import annotations

import pytest

from genjobs.logic import cursors, jobs, planning, views
from genjobs.logic.cursors import InvalidCursor
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import Plan, TaskCounts, TaskStatus
from tests.unit.fakes import FakeDeps
from tests.unit.scenario import USER, created, granted, job_of, prepared, task_of, task_succeeded

KEY = b"k" * 32


def test_a_job_created_without_an_idempotency_key_is_stored_without_one(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 1)
    assert job_of(deps, job_id).idempotency_key is None


def test_a_job_created_with_an_idempotency_key_keeps_it(deps: FakeDeps) -> None:
    granted(deps)
    request = CreateJobRequest(provider="simulator", model="sim-image", tasks=[{"seed": 0}])
    answer = jobs.create_job(deps, USER, request, "key-1")
    assert job_of(deps, answer.job_id).idempotency_key == "key-1"


def test_the_creation_answer_of_a_large_job_lists_one_page_and_a_cursor_to_the_rest(deps: FakeDeps) -> None:
    # GIVEN a job of more tasks than one page holds
    granted(deps, 1000)
    request = CreateJobRequest(provider="simulator", model="sim-image", matrix={"seed": list(range(150))})
    # WHEN it is created
    answer = jobs.create_job(deps, USER, request, None)
    # THEN the answer lists the first page, and its cursor continues the task listing
    assert len(answer.tasks) == jobs.TASKS_PAGE
    rest = jobs.list_tasks(deps, USER, answer.job_id, 100, answer.tasks_cursor)
    assert [t.index for t in rest.items] == list(range(100, 150))


def test_the_creation_answer_of_a_small_job_has_no_tasks_cursor(deps: FakeDeps) -> None:
    granted(deps)
    request = CreateJobRequest(provider="simulator", model="sim-image", tasks=[{"seed": 0}])
    assert jobs.create_job(deps, USER, request, None).tasks_cursor is None


def test_a_new_job_reads_pending_at_zero_progress_with_its_price(deps: FakeDeps) -> None:
    granted(deps)
    view = views.job_view(job_of(deps, created(deps, 4)))
    assert (view.progress, view.counts.PENDING, view.counts.COMPLETED) == (0.0, 4, 0)
    assert (view.plan.task_count, view.credits.reserved) == (4, 4 * view.credits.unit_price)


def test_the_job_view_counts_the_tasks_in_each_status(deps: FakeDeps) -> None:
    granted(deps)
    job = job_of(deps, created(deps, 6)).model_copy(
        update={"counts": TaskCounts(pending=1, processing=2, completed=1, failed=1, cancelled=1)}
    )
    counts = views.job_view(job).counts
    assert [counts.PENDING, counts.PROCESSING, counts.COMPLETED, counts.FAILED, counts.CANCELLED] == [
        1,
        2,
        1,
        1,
        1,
    ]
    assert views.job_view(job).progress == 50.0


def test_a_job_detail_shows_a_finished_tasks_share_of_progress(deps: FakeDeps) -> None:
    # GIVEN a job of two tasks, one succeeded
    granted(deps)
    job_id = prepared(deps, 2)
    task_succeeded(deps, job_id, 0)
    # WHEN its detail is read
    detail = jobs.get_job(deps, USER, job_id)
    # THEN it is half done, and the finished task reads 100 percent
    assert detail.progress == 50.0
    assert detail.tasks[0].progress == 100.0


def test_a_finished_tasks_outputs_are_short_lived_links_to_our_store(deps: FakeDeps) -> None:
    # GIVEN a task completed with one kept output
    granted(deps)
    job_id = prepared(deps, 1)
    task_succeeded(deps, job_id)
    (kept,) = task_of(deps, job_id).outputs
    # WHEN the task is read
    (output,) = views.task_view(task_of(deps, job_id), deps.storage, 60).outputs
    # THEN its output is a link to the kept object that expires as configured
    assert output.url == deps.storage.presign(kept.key, 60)
    assert (output.content_type, output.size) == (kept.content_type, kept.size)


def test_a_running_tasks_progress_is_its_providers(deps: FakeDeps) -> None:
    granted(deps)
    task = task_of(deps, prepared(deps, 1)).model_copy(
        update={"status": TaskStatus.PROCESSING, "progress": 40.0}
    )
    assert views.task_view(task, deps.storage, 60).progress == 40.0
    assert views.progress(job_of(deps, task.job_id), [task]) == 40.0


def test_a_task_view_carries_no_output_when_none_was_kept(deps: FakeDeps) -> None:
    granted(deps)
    task = task_of(deps, prepared(deps, 1))
    assert views.task_view(task, deps.storage, 60).outputs == []


def test_a_job_of_exactly_the_maximum_tasks_is_accepted() -> None:
    assert planning.validate(Plan(tasks=[{}] * 5), 5) == 5


def test_a_job_of_one_task_over_the_maximum_is_refused_naming_tasks() -> None:
    with pytest.raises(planning.PlanError) as refused:
        planning.validate(Plan(tasks=[{}] * 6), 5)
    assert refused.value.field == "tasks"


def test_a_matrix_over_the_maximum_runs_when_a_count_takes_part_of_it() -> None:
    assert planning.validate(Plan(matrix={"a": list(range(10)), "b": list(range(10))}, count=5), 50) == 5


@pytest.mark.parametrize("count", [0, -1])
def test_a_count_below_one_is_refused_naming_count(count: int) -> None:
    with pytest.raises(planning.PlanError) as refused:
        planning.validate(Plan(matrix={"a": [1, 2]}, count=count), 50)
    assert refused.value.field == "count"


def test_the_first_matrix_dimension_varies_slowest() -> None:
    plan = Plan(matrix={"a": [1, 2], "b": ["x", "y", "z"]})
    assert [(i["a"], i["b"]) for i in planning.expand(plan, {})] == [
        (1, "x"),
        (1, "y"),
        (1, "z"),
        (2, "x"),
        (2, "y"),
        (2, "z"),
    ]


def test_a_tasks_own_value_wins_over_the_common_input() -> None:
    plan = Plan(matrix={"prompt": ["a cat"]})
    assert planning.task_input(plan, {"prompt": "default", "steps": 4}, 0) == {"prompt": "a cat", "steps": 4}


def test_a_page_without_a_next_key_has_no_cursor_and_no_cursor_opens_to_the_start() -> None:
    assert cursors.seal(KEY, None, user_id=USER, listing=cursors.jobs_listing()) is None
    assert cursors.open_cursor(KEY, None, user_id=USER, listing=cursors.jobs_listing()) is None


@pytest.mark.parametrize("cursor", ["AAAA", "not base64 !", "x" * 3])
def test_a_cursor_too_short_or_not_base64_is_refused_naming_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        cursors.open_cursor(KEY, cursor, user_id=USER, listing=cursors.jobs_listing())
    assert refused.value.errors[0]["field"] == "cursor"


def test_two_cursors_of_the_same_key_differ_and_both_open() -> None:
    listing = cursors.tasks_listing("j")
    one, two = (cursors.seal(KEY, {"pk": "J#j"}, user_id=USER, listing=listing) for _ in range(2))
    assert one != two
    assert cursors.open_cursor(KEY, one, user_id=USER, listing=listing) == {"pk": "J#j"}
    assert cursors.open_cursor(KEY, two, user_id=USER, listing=listing) == {"pk": "J#j"}


def test_a_completed_task_reads_100_percent_whatever_its_provider_last_said(deps: FakeDeps) -> None:
    # GIVEN a task that completed when its provider had last reported 80 percent
    granted(deps)
    task = task_of(deps, prepared(deps, 1)).model_copy(
        update={"status": TaskStatus.COMPLETED, "progress": 80.0}
    )
    # THEN it reads done
    assert views.task_view(task, deps.storage, 60).progress == 100.0
