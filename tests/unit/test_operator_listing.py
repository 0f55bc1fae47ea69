"""Operators list every user's jobs by the bulk filter (logic.operator_jobs.list_jobs) on the fakes."""

from __future__ import annotations

import pytest

from genjobs.logic import operator_jobs
from genjobs.logic.cursors import InvalidCursor
from genjobs.logic.errors import InvalidRequest
from tests.unit.fakes import FakeDeps
from tests.unit.scenario import created, granted


def test_every_users_matching_jobs_are_listed_once_with_their_owner_page_by_page(deps: FakeDeps) -> None:
    # GIVEN three users' image jobs and one video job
    for user in ("ann", "bob", "cy"):
        granted(deps, 20, user)
    images = {created(deps, 1, user=user): user for user in ("ann", "bob", "cy")}
    created(deps, 1, user="ann", model="sim-video")
    found_by = operator_jobs.job_filter(None, model="sim-image")
    # WHEN an operator pages through the image jobs two at a time
    first = operator_jobs.list_jobs(deps, "ops", found_by, 2, None)
    second = operator_jobs.list_jobs(deps, "ops", found_by, 2, first.cursor)
    # THEN the pages hold no more than asked, and together every image job once, each with its owner
    assert len(first.items) == 2
    assert first.cursor is not None
    listed = {job.job_id: job.user_id for job in first.items + second.items}
    assert listed == images
    assert len(first.items) + len(second.items) == 3
    # and a cursor is the operator's own
    with pytest.raises(InvalidCursor):
        operator_jobs.list_jobs(deps, "another-operator", found_by, 2, first.cursor)


def test_an_unknown_status_is_refused_naming_the_statuses() -> None:
    with pytest.raises(InvalidRequest, match="PROCESSING"):
        operator_jobs.job_filter("processing,stuck")
