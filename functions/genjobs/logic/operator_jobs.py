"""Operators list every user's jobs by the bulk operations' filter (a Scan, paged): the API's only
reader of jobs across owners. Apart from logic.operations, whose bulk worker needs no cursor key."""

from __future__ import annotations

from genjobs.logic import cursors, views
from genjobs.logic.errors import InvalidRequest
from genjobs.logic.ports import Collaborators
from genjobs.models.domain import Job, JobFilter, JobStatus
from genjobs.models.operations import OwnedJobListView, OwnedJobView

# The scans one listing page makes at most: a filter that matches little answers a short page (with
# its cursor) rather than reading the whole table in one request.
SCANS_PER_LISTING = 20


def job_filter(status: str | None, **conditions: object) -> JobFilter:
    """The bulk filter from a listing's query (`status` comma separated)."""
    statuses = []
    for word in (status or "").split(","):
        if not word.strip():
            continue
        if word.strip().upper() not in JobStatus.__members__:
            raise InvalidRequest.field(
                "status", f"'{word}' is not one of {', '.join(s.value for s in JobStatus)}"
            )
        statuses.append(JobStatus(word.strip().upper()))
    return JobFilter.model_validate({"status": statuses or None, **conditions})


def list_jobs(
    deps: Collaborators, operator: str, found_by: JobFilter, limit: int, cursor: str | None
) -> OwnedJobListView:
    """Every user's jobs the filter matches, in the table's order. Each scan reads no more items than
    the page still lacks, so the page never overshoots and its cursor resumes exactly after it."""
    listing = cursors.operator_jobs_listing()
    start = cursors.open_cursor(deps.cursor_key, cursor, user_id=operator, listing=listing)
    jobs: list[Job] = []
    for _ in range(SCANS_PER_LISTING):
        page = deps.operations.matching_jobs(found_by, start, limit - len(jobs))
        jobs.extend(page.items)
        start = page.last_key
        if not start or len(jobs) >= limit:
            break
    items = [
        OwnedJobView.model_validate({**views.job_view(j).model_dump(by_alias=True), "userId": j.user_id})
        for j in jobs
    ]
    return OwnedJobListView(
        items=items, cursor=cursors.seal(deps.cursor_key, start, user_id=operator, listing=listing)
    )
