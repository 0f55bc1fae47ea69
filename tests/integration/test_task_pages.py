"""A page of tasks stays within what AWS can carry, however large the tasks' inputs (moto, no workflow)."""

from __future__ import annotations

import json

import pytest

from genjobs.deps import Deps
from genjobs.logic import jobs
from genjobs.logic.preparation import prepare
from genjobs.models.api import CreateJobRequest

BIG = "x" * 150_000  # three such inputs are over a page's budget, one is not


def every_index(deps: Deps, user: str, job_id: str) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = jobs.list_tasks(deps, user, job_id, 100, cursor)
        pages.append([t.index for t in page.items])
        assert len(page.model_dump_json()) < 6 * 1024 * 1024  # Lambda's response limit
        if not (cursor := page.cursor):
            return pages


@pytest.mark.parametrize("prepared", [False, True], ids=["planned", "written"])
def test_large_inputs_split_the_task_pages_and_every_task_is_listed_once(deps: Deps, prepared: bool) -> None:
    # GIVEN a job of three tasks whose inputs are 150 KB each
    deps.credits.grant("u1", 10, "g", None)
    request = CreateJobRequest(
        provider="simulator", model="sim-image", tasks=[{"p": BIG, "n": i} for i in range(3)]
    )
    created = jobs.create_job(deps, "u1", request, None)
    # WHEN it is created, THEN the answer carries the tasks that fit and a cursor to the others
    # (the idempotency store keeps that answer as one DynamoDB item of at most 400 KB)
    assert len(json.dumps(created.model_dump(mode="json"))) < 300 * 1024
    assert [t.index for t in created.tasks] == [0]
    assert created.tasks_cursor is not None
    if prepared:
        prepare(deps, created.job_id)
    # AND the job and its task list page through every task once, in order, each page under the limits
    detail = jobs.get_job(deps, "u1", created.job_id)
    assert [t.index for t in detail.tasks] == [0]
    assert every_index(deps, "u1", created.job_id) == [[0], [1], [2]]
    rest = jobs.list_tasks(deps, "u1", created.job_id, 100, created.tasks_cursor)
    assert [t.index for t in rest.items] == [1]


def test_a_first_task_over_the_budget_leaves_the_creation_answer_without_tasks(deps: Deps) -> None:
    # GIVEN a job whose first task alone is over a page's budget
    deps.credits.grant("u2", 10, "g", None)
    request = CreateJobRequest(
        provider="simulator", model="sim-image", tasks=[{"p": "y" * 300_000}, {"p": "z"}]
    )
    created = jobs.create_job(deps, "u2", request, None)
    # THEN the answer has no task and a cursor that starts at the first
    assert created.tasks == []
    assert [
        t.index for t in jobs.list_tasks(deps, "u2", created.job_id, 100, created.tasks_cursor).items
    ] == [0]
    # AND a listing always moves on: one task per page at least
    assert every_index(deps, "u2", created.job_id) == [[0], [1]]
