"""Operators' bulk operations: retry or cancel every job a filter matches (a provider's outage),
counted first with a dry run, then run page by page through BulkQueue with its progress readable.
Each job is handled once even when a page is delivered twice (its claim comes first: a crash
between the claim and the action leaves that job to the operator, never acts twice)."""

from __future__ import annotations

import uuid

from genjobs.logic import retries
from genjobs.logic.cancelling import request_cancel
from genjobs.logic.errors import Conflict, DomainError, NotFound
from genjobs.logic.ports import Collaborators
from genjobs.models.api import RetryJobRequest
from genjobs.models.domain import Job, Operation, utcnow
from genjobs.models.messages import BulkPage
from genjobs.models.operations import BulkJobsRequest, OperationView
from genjobs.observability import logger

# Items of the table one page scans (jobs are among tasks, events and ledger entries).
SCANNED_PER_PAGE = 500


def start(deps: Collaborators, operator: str, request: BulkJobsRequest) -> OperationView:
    if request.dry_run:
        matched = deps.operations.count_jobs(request.filter)
        return OperationView(action=request.action, status="DRY_RUN", matched=matched)
    operation = Operation(
        operationId=str(uuid.uuid4()),
        action=request.action,
        filter=request.filter,
        include=list(request.include),
        by=operator,
        createdAt=utcnow(),
    )
    deps.operations.create(operation)
    deps.bulk_queue.send_page(BulkPage(operationId=operation.operation_id))
    return view(operation)


def view(operation: Operation) -> OperationView:
    return OperationView.model_validate(
        operation.model_dump(by_alias=True, exclude={"filter", "include", "by"})
    )


def get(deps: Collaborators, operation_id: str) -> OperationView:
    operation = deps.operations.get(operation_id)
    if operation is None:
        raise NotFound(f"no operation '{operation_id}'")
    return view(operation)


def run_page(deps: Collaborators, page: BulkPage) -> None:
    """Handles the page's matching jobs, then hands the next page on (or ends the operation) once."""
    operation = deps.operations.get(page.operation_id)
    if operation is None:
        logger.warning("page of an unknown operation dropped", extra={"operationId": page.operation_id})
        return
    found = deps.operations.matching_jobs(operation.filter, page.start_key, SCANNED_PER_PAGE)
    for job in found.items:
        if deps.operations.claim(operation.operation_id, f"JOB#{job.job_id}"):
            deps.operations.count(operation.operation_id, _act(deps, operation, job))
    where = "START" if page.start_key is None else f"{page.start_key['pk']}#{page.start_key['sk']}"
    if not deps.operations.claim(operation.operation_id, f"PAGE#{where}"):
        return  # a second delivery of a page already handed on
    if found.last_key:
        deps.bulk_queue.send_page(BulkPage(operationId=operation.operation_id, startKey=found.last_key))
    else:
        deps.operations.finish(operation.operation_id)


def _act(deps: Collaborators, operation: Operation, job: Job) -> str:
    """`done`, or `skipped` when the action refused the job (still running, nothing to retry...)."""
    try:
        if operation.action == "retry":
            retries.retry(deps, job, RetryJobRequest.model_validate({"include": operation.include}))
        elif request_cancel(deps, job, by=operation.by) is None:
            raise Conflict(f"job '{job.job_id}' is {job.status.value}: nothing to cancel")
    except DomainError as refused:
        logger.info("bulk action refused", extra={"jobId": job.job_id, "reason": str(refused)})
        return "skipped"
    return "done"
