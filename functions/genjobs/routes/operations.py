"""/admin/jobs, /admin/jobs/bulk and /admin/operations: operators list every user's jobs, and retry or
cancel many at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from genjobs.deps import deps
from genjobs.logic import operations, operator_jobs
from genjobs.models.operations import BulkJobsRequest, OperationView, OwnedJobListView
from genjobs.routes.dependencies import Admin, Caller
from genjobs.routes.jobs import accepted
from genjobs.routes.params import Cursor, Limit, responses

router = Router()  # type: ignore[no-untyped-call]

OperationId = Annotated[str, Path(description="The operation's id.", min_length=1, max_length=64)]


@router.post(
    "/admin/jobs/bulk",
    summary="Retry or cancel every job a filter matches (operators only); dryRun counts them first",
    responses=responses(
        202, OperationView, "The operation, running page by page (a dry run: the count).", 400, 403, 413, 415
    ),
)
def bulk_jobs(request: BulkJobsRequest, operator: Caller, _operator: Admin) -> Response[OperationView]:
    view = operations.start(deps(), operator, request)
    return accepted(view)


@router.get(
    "/admin/operations/<operationId>",
    summary="A bulk operation's progress (operators only)",
    responses=responses(200, OperationView, "The operation.", 403, 404),
)
def get_operation(operationId: OperationId, _operator: Admin) -> OperationView:  # noqa: N803
    return operations.get(deps(), operationId)


@router.get(
    "/admin/jobs",
    summary="Every user's jobs a filter matches, as the bulk filter takes it (operators only)",
    responses=responses(200, OwnedJobListView, "A page of jobs, each with its owner.", 400, 403),
)
def list_all_jobs(
    operator: Caller,
    _operator: Admin,
    status: Annotated[str | None, Query(max_length=200, description="Job statuses, comma separated.")] = None,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    model: Annotated[str | None, Query(max_length=128)] = None,
    created_from: Annotated[datetime | None, Query(alias="createdFrom")] = None,
    created_to: Annotated[datetime | None, Query(alias="createdTo")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> OwnedJobListView:
    found_by = operator_jobs.job_filter(
        status, provider=provider, model=model, createdFrom=created_from, createdTo=created_to
    )
    return operator_jobs.list_jobs(deps(), operator, found_by, limit, cursor)
