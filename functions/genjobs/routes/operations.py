"""/admin/jobs/bulk and /admin/operations: operators retry or cancel many jobs at once."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from genjobs.deps import deps
from genjobs.logic import operations
from genjobs.models.operations import BulkJobsRequest, OperationView
from genjobs.routes.dependencies import Admin, Caller
from genjobs.routes.params import responses

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
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=view)


@router.get(
    "/admin/operations/<operationId>",
    summary="A bulk operation's progress (operators only)",
    responses=responses(200, OperationView, "The operation.", 403, 404),
)
def get_operation(operationId: OperationId, _operator: Admin) -> OperationView:  # noqa: N803
    return operations.get(deps(), operationId)
