"""/jobs: create, list, read, page through tasks and the timeline, cancel, pause and resume."""

from __future__ import annotations

from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from genjobs.deps import deps
from genjobs.logic import creation, jobs, live_feed, pausing, signals
from genjobs.logic.errors import InvalidRequest
from genjobs.models.api import (
    CreateJobRequest,
    EventListView,
    JobDetailView,
    JobListView,
    RetryJobRequest,
    SignalRequest,
    SignalView,
    TaskListView,
)
from genjobs.observability import metrics
from genjobs.routes import examples
from genjobs.routes.dependencies import Caller
from genjobs.routes.params import Cursor, IdempotencyKey, JobId, Limit, SignalName, responses

router = Router()  # type: ignore[no-untyped-call]

V = TypeVar("V")


def accepted(view: V) -> Response[V]:
    """A 202 answer: the work it started goes on after it (a job's workflow, a bulk operation)."""
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=view)


@router.post(
    "/jobs",
    summary="Create a job",
    responses=responses(
        202, JobDetailView, "The job, planned exactly, its credits reserved, started.", 400, 402, 413, 415
    ),
)
def create_job(
    request: Annotated[CreateJobRequest, Body(openapi_examples=examples.CREATE_JOB)],
    user: Caller,
    idempotency_key: IdempotencyKey = None,
) -> Response[JobDetailView]:
    view = creation.create_job(deps(), user, request, idempotency_key, router.lambda_context)
    metrics.add_metric(name="JobsCreated", unit="Count", value=1)
    return accepted(view)


@router.get(
    "/jobs",
    summary="List the caller's jobs, newest first",
    responses=responses(200, JobListView, "A page of jobs.", 400),
)
def list_jobs(
    user: Caller,
    status: Annotated[
        str | None,
        Query(max_length=200, description="`active`, `finished` or job statuses, comma separated."),
    ] = None,
    collection_id: Annotated[str | None, Query(alias="collectionId", max_length=128)] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> JobListView:
    return jobs.list_jobs(
        deps(), user, status=status, collection_id=collection_id, limit=limit, cursor=cursor
    )


@router.get(
    "/jobs/<jobId>",
    summary="A job with its counts, credits, progress and first page of tasks",
    responses=responses(200, JobDetailView, "The job.", 404),
)
def get_job(jobId: JobId, user: Caller) -> JobDetailView:  # noqa: N803 - the path parameter's public name
    return jobs.get_job(deps(), user, jobId)


@router.get(
    "/jobs/<jobId>/tasks",
    summary="A page of a job's tasks",
    responses=responses(200, TaskListView, "A page of tasks.", 400, 404),
)
def list_tasks(
    jobId: JobId,  # noqa: N803
    user: Caller,
    limit: Limit = 100,
    cursor: Cursor = None,
    step: Annotated[str | None, Query(max_length=32, description="Only this pipeline step's tasks.")] = None,
) -> TaskListView:
    return jobs.list_tasks(deps(), user, jobId, limit, cursor, step)


@router.get(
    "/jobs/<jobId>/events",
    summary="A job's timeline, oldest first; with `after`, the live channel's changes after that number",
    responses=responses(200, EventListView, "A page of the timeline, or of numbered changes.", 400, 404, 422),
)
def list_events(
    jobId: JobId,  # noqa: N803
    user: Caller,
    limit: Limit = 100,
    cursor: Cursor = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=9_999_999_999, description="Changes numbered after this `seq` (0: from the first)."),
    ] = None,
) -> EventListView:
    if after is None:
        return EventListView.model_validate(jobs.list_events(deps(), user, jobId, limit, cursor))
    if cursor is not None:
        raise InvalidRequest.field("cursor", "not with `after`: ask again after the last change's seq")
    changes = live_feed.changes_after(deps(), user, jobId, after, limit)
    items = [c.model_dump(mode="json", by_alias=True, exclude={"job_id"}, exclude_none=True) for c in changes]
    return EventListView.model_validate({"items": items})


@router.post(
    "/jobs/<jobId>/cancel",
    summary="Cancel a job (idempotent)",
    responses=responses(202, JobDetailView, "Cancelling, or already cancelled.", 404, 409),
)
def cancel_job(jobId: JobId, user: Caller) -> Response[JobDetailView]:  # noqa: N803
    view = jobs.cancel_job(deps(), user, jobId)
    return accepted(view)


@router.post(
    "/jobs/<jobId>/retry",
    summary="Run an ended job's failed (or cancelled) tasks again, in the same job",
    responses=responses(
        202,
        JobDetailView,
        "PROCESSING again: credits reserved for exactly the retried tasks, its workflow started.",
        400,
        402,
        404,
        409,
        413,
        415,
    ),
)
def retry_job(
    jobId: JobId,  # noqa: N803
    user: Caller,
    request: Annotated[RetryJobRequest, Body(openapi_examples=examples.RETRY)] = RetryJobRequest(),  # noqa: B008
    idempotency_key: IdempotencyKey = None,
) -> Response[JobDetailView]:
    view = creation.retry_job(deps(), user, jobId, request, idempotency_key, router.lambda_context)
    return accepted(view)


@router.post(
    "/jobs/<jobId>/pause",
    summary="Pause a job: nothing new is submitted, tasks in flight finish and are kept (idempotent)",
    responses=responses(200, JobDetailView, "Paused (status PAUSED), or already paused.", 404, 409),
)
def pause_job(jobId: JobId, user: Caller) -> JobDetailView:  # noqa: N803
    return pausing.pause_job(deps(), user, jobId)


@router.post(
    "/jobs/<jobId>/resume",
    summary="Resume a paused job: its waiting tasks are dispatched again (idempotent)",
    responses=responses(200, JobDetailView, "Resumed, or not paused.", 404),
)
def resume_job(jobId: JobId, user: Caller) -> JobDetailView:  # noqa: N803
    return pausing.resume_job(deps(), user, jobId)


@router.post(
    "/jobs/<jobId>/signals/<name>",
    summary="Answer a pipeline's signal step (approve or reject), e.g. a script before its video is paid for",
    responses=responses(
        202, SignalView, "Kept; a waiting step ends now, else when it is reached.", 400, 404, 409, 413, 415
    ),
)
def send_signal(
    request: Annotated[SignalRequest, Body(openapi_examples=examples.SIGNAL)],
    jobId: JobId,  # noqa: N803
    name: SignalName,
    user: Caller,
) -> Response[SignalView]:
    signal = request.model_dump(mode="json", exclude_none=True)
    view = SignalView.model_validate(signals.send(deps(), user, jobId, name, signal))
    return accepted(view)
