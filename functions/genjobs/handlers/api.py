"""The public HTTP API (API Gateway HTTP API, payload v2, JWT authorizer)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import credits, devices, jobs
from genjobs.logic.errors import Conflict, DomainError, Forbidden, InvalidRequest
from genjobs.models import stored
from genjobs.models.api import (
    AuthorizerError,
    CreateJobRequest,
    CreditsBalanceView,
    DeviceView,
    EventListView,
    GrantCreditsRequest,
    GrantView,
    JobDetailView,
    JobListView,
    RegisterDeviceRequest,
    TaskListView,
)
from genjobs.models.problems import Problem
from genjobs.observability import bind, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

PROBLEM_JSON = "application/problem+json"
TITLE = "genjobs API"
VERSION = "1.0.0"


def parse_json_body(body: str) -> Any:
    """The body as JSON; what the parser cannot take (nesting thousands deep, an integer of thousands
    of digits) is a malformed body like any syntax error, not a crash."""
    try:
        # A fractional number a float does not hold exactly is marked, for the rule to refuse.
        return json.loads(body, parse_float=stored.parse_float)
    except json.JSONDecodeError:
        raise
    except RecursionError as error:
        raise json.JSONDecodeError("nested too deeply to parse", body, 0) from error
    except ValueError as error:
        raise json.JSONDecodeError(str(error), body, 0) from error


app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=parse_json_body)

JobId = Annotated[str, Path(description="The job's id.", min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=100, description="Most items in one page.")]
Cursor = Annotated[str | None, Query(max_length=2048, description="`cursor` of the previous page.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retries with the same key and body return the same job and reserve nothing more.",
    ),
]


# ------------------------------------------------------------------------------------- document
PROBLEMS = {
    400: "Malformed request: the body is not JSON, or the cursor is not one this API returned to the "
    "caller for this listing.",
    401: "Missing or invalid token (answered by the API's JWT authorizer).",
    402: "Not enough credits for the job; nothing was created.",
    403: "The route is for operators.",
    404: "No such job or device for this caller.",
    409: "The request conflicts with the resource's state.",
    413: "The body is over the size limit.",
    415: "The body is not `application/json`.",
    422: "A field is missing, unknown or invalid; `errors` names each field and reason.",
}


def responses(code: int, model: type[Any] | None, description: str, *problems: int) -> dict[int, Any]:
    """OpenAPI responses of a route: its success and the problems (RFC 9457) it can answer with."""
    documented: dict[int, Any] = {
        code: {
            "description": description,
            **({"content": {"application/json": {"model": model}}} if model else {}),
        }
    }
    documented[401] = {
        "description": PROBLEMS[401],
        "content": {"application/json": {"model": AuthorizerError}},
    }
    for status in sorted({422, *problems}):
        documented[status] = {"description": PROBLEMS[status], "content": {PROBLEM_JSON: {"model": Problem}}}
    return documented


# ------------------------------------------------------------------------------------- errors
def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Response[str]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body))


@app.exception_handler(DomainError)
def handle_domain_error(error: DomainError) -> Response[str]:
    return problem(error.status, error.title, error.detail, error.errors)


@app.exception_handler(RequestValidationError)
def handle_validation_error(error: RequestValidationError) -> Response[str]:
    problems = []
    for e in error.errors():
        location = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        if e.get("type") in {"json_invalid", "json_type"}:
            cause = (e.get("ctx") or {}).get("error")
            return problem(
                400,
                "Malformed JSON",
                "the request body is not valid JSON",
                [{"field": "body", "reason": f"{e.get('msg')}: {cause}" if cause else str(e.get("msg"))}],
            )
        if location and location[0] in ("query", "path", "header"):
            location = location[1:]
        # A stored value's own path below its field, e.g. input.a.b (see models.stored).
        below = str((e.get("ctx") or {}).get("path", "")) if e.get("type") == "dynamodb_limit" else ""
        field = ".".join([*location, below] if below else location)
        problems.append({"field": field or "body", "reason": str(e.get("msg", "invalid"))})
    detail = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return problem(422, "Invalid request", detail, problems)


class IdempotencyKeyReused(InvalidRequest):
    """Powertools' IdempotencyValidationError, answered as a problem like every domain error."""

    title = "Idempotency-Key reused"


class RequestInProgress(Conflict):
    """Powertools' IdempotencyAlreadyInProgressError."""

    title = "Request in progress"


@app.not_found
def handle_not_found(_: Exception) -> Response[str]:
    return problem(404, "Not found", "no such route")


# ------------------------------------------------------------------------------------- caller
def caller() -> str:
    claims = app.current_event.request_context.authorizer.jwt_claim or {}
    sub = claims.get("sub")
    if not sub:
        raise Forbidden("the token has no subject")
    return str(sub)


def require_admin() -> None:
    claims = app.current_event.request_context.authorizer.jwt_claim or {}
    raw = claims.get("cognito:groups", "")
    groups = raw if isinstance(raw, list) else str(raw).strip("[]").replace(",", " ").split()
    if deps().settings.admin_group not in groups:
        raise Forbidden("this route is for operators")


# ------------------------------------------------------------------------------------- jobs
@cache
def _create_idempotently() -> tuple[Callable[[dict[str, Any]], dict[str, Any]], IdempotencyConfig]:
    # Powertools' idempotency (and boto3 with it) is imported by the first create with a key.
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    settings = deps().settings
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table_name)
    config = IdempotencyConfig(
        event_key_jmespath="[user, key]",
        payload_validation_jmespath="bodyHash",
        expires_after_seconds=24 * 3600,
    )

    @idempotent_function(data_keyword_argument="data", persistence_store=persistence, config=config)
    def create(data: dict[str, Any]) -> dict[str, Any]:
        request = CreateJobRequest.model_validate(data["request"])
        view = jobs.create_job(deps(), data["user"], request, data["key"])
        return view.model_dump(mode="json", by_alias=True)

    def create_once(data: dict[str, Any]) -> dict[str, Any]:
        try:
            return create(data=data)
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used before with a different request body",
                errors=[{"field": "Idempotency-Key", "reason": "already used with a different body"}],
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            raise RequestInProgress("a request with this Idempotency-Key is still being processed") from error

    return create_once, config


@app.post(
    "/jobs",
    summary="Create a job",
    responses=responses(
        202, JobDetailView, "The job, planned exactly, its credits reserved, started.", 400, 402, 413, 415
    ),
)
def create_job(request: CreateJobRequest, idempotency_key: IdempotencyKey = None) -> Response[JobDetailView]:
    user = caller()
    if idempotency_key is None:
        view = jobs.create_job(deps(), user, request, None)
    else:
        create, config = _create_idempotently()
        config.register_lambda_context(app.lambda_context)
        canonical = json.dumps(request.model_dump(mode="json", by_alias=True), sort_keys=True)
        data = {
            "user": user,
            "key": idempotency_key,
            "bodyHash": hashlib.sha256(canonical.encode()).hexdigest(),
            "request": request.model_dump(mode="json", by_alias=True),
        }
        view = JobDetailView.model_validate(create(data))
    metrics.add_metric(name="JobsCreated", unit="Count", value=1)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=view)


@app.get(
    "/jobs",
    summary="List the caller's jobs, newest first",
    responses=responses(200, JobListView, "A page of jobs.", 400),
)
def list_jobs(
    status: Annotated[
        str | None,
        Query(max_length=200, description="`active`, `finished` or job statuses, comma separated."),
    ] = None,
    collection_id: Annotated[str | None, Query(alias="collectionId", max_length=128)] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> JobListView:
    return jobs.list_jobs(
        deps(), caller(), status=status, collection_id=collection_id, limit=limit, cursor=cursor
    )


@app.get(
    "/jobs/<jobId>",
    summary="A job with its counts, credits, progress and first page of tasks",
    responses=responses(200, JobDetailView, "The job.", 404),
)
def get_job(jobId: JobId) -> JobDetailView:  # noqa: N803 - the path parameter's public name
    return jobs.get_job(deps(), caller(), jobId)


@app.get(
    "/jobs/<jobId>/tasks",
    summary="A page of a job's tasks",
    responses=responses(200, TaskListView, "A page of tasks.", 400, 404),
)
def list_tasks(jobId: JobId, limit: Limit = 100, cursor: Cursor = None) -> TaskListView:  # noqa: N803
    return jobs.list_tasks(deps(), caller(), jobId, limit, cursor)


@app.get(
    "/jobs/<jobId>/events",
    summary="A job's timeline, oldest first",
    responses=responses(200, EventListView, "A page of the timeline.", 400, 404),
)
def list_events(jobId: JobId, limit: Limit = 100, cursor: Cursor = None) -> EventListView:  # noqa: N803
    return EventListView.model_validate(jobs.list_events(deps(), caller(), jobId, limit, cursor))


@app.post(
    "/jobs/<jobId>/cancel",
    summary="Cancel a job (idempotent)",
    responses=responses(202, JobDetailView, "Cancelling, or already cancelled.", 404, 409),
)
def cancel_job(jobId: JobId) -> Response[JobDetailView]:  # noqa: N803
    view = jobs.cancel_job(deps(), caller(), jobId)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=view)


# ------------------------------------------------------------------------------------- credits
@app.get(
    "/credits",
    summary="The caller's credit balance",
    responses=responses(200, CreditsBalanceView, "The balance."),
)
def get_credits() -> CreditsBalanceView:
    return credits.balance(deps(), caller())


@app.post(
    "/admin/credits",
    summary="Grant credits to a user (operators only)",
    responses=responses(200, GrantView, "The grant and the new balance.", 400, 403, 413, 415),
)
def grant_credits(request: GrantCreditsRequest, idempotency_key: IdempotencyKey = None) -> GrantView:
    require_admin()
    grant_id = request.grant_id or idempotency_key
    if grant_id is None:
        raise InvalidRequest.field(
            "grantId", "give a grantId or an Idempotency-Key so the grant is applied once"
        )
    return credits.grant(deps(), request, grant_id)


# ------------------------------------------------------------------------------------- devices
@app.post(
    "/devices",
    summary="Register a device for completion pushes",
    responses=responses(201, DeviceView, "The device (the same one for the same token).", 400, 413, 415),
)
def register_device(request: RegisterDeviceRequest) -> Response[DeviceView]:
    view = devices.register(deps(), caller(), request)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=view)


@app.delete(
    "/devices/<deviceId>", summary="Forget a device", responses=responses(204, None, "Forgotten.", 404)
)
def delete_device(deviceId: Annotated[str, Path(min_length=1, max_length=64)]) -> Response[str]:  # noqa: N803
    devices.unregister(deps(), caller(), deviceId)
    return Response(status_code=204, body="")


# ------------------------------------------------------------------------------------- document
def openapi_document() -> str:
    # The OpenAPI models are pydantic classes that take longer to import than the rest of the API;
    # only this route needs them.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        summary="Background AI generation jobs: exact plans, credits, progress, cancel, outputs.",
        security_schemes={"jwt": HTTPBearer(bearerFormat="JWT", description="The API's JWT authorizer.")},
        security=[{"jwt": []}],
    )


@app.get("/openapi.json", include_in_schema=False)
def serve_openapi() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document())


def unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """Refuses, before it is parsed, a body that is not UTF-8 JSON (validation would fail on a form
    without a boundary or bytes that are not UTF-8 instead of answering a problem) or that is over
    the size limit: the limit applies to the body's bytes, not to their base64 encoding."""
    body = event.get("body")
    if not body:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return _problem_event(
            415,
            "Unsupported media type",
            "Content-Type",
            f"the body must be application/json, not {media_type}",
        )
    raw: bytes = body.encode("utf-8", "surrogatepass")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body)
        except ValueError:
            return _problem_event(400, "Malformed JSON", "body", "the body is not valid base64")
    limit = deps().settings.max_body_bytes
    if len(raw) > limit:
        return _problem_event(
            413, "Payload too large", "body", f"the body is over the limit of {limit} bytes"
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return _problem_event(400, "Malformed JSON", "body", "the body is not UTF-8 text")
    return None


# Query parameters each route declares (a contract test keeps this equal to the OpenAPI document).
QUERY_PARAMETERS: dict[str, frozenset[str]] = {
    "GET /jobs": frozenset({"status", "collectionId", "limit", "cursor"}),
    "GET /jobs/{jobId}/tasks": frozenset({"limit", "cursor"}),
    "GET /jobs/{jobId}/events": frozenset({"limit", "cursor"}),
}


def unknown_query_parameter(event: dict[str, Any]) -> dict[str, Any] | None:
    """A misspelt filter (e.g. `colectionId`) is refused instead of silently returning everything."""
    given = set(event.get("queryStringParameters") or {})
    unknown = sorted(given - QUERY_PARAMETERS.get(event.get("routeKey", ""), frozenset()))
    if not unknown:
        return None
    return _problem_event(422, "Invalid request", unknown[0], "unknown query parameter")


def _problem_event(status: int, title: str, field: str, detail: str) -> dict[str, Any]:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [{"field": field, "reason": detail}],
    }
    return {"statusCode": status, "headers": {"Content-Type": PROBLEM_JSON}, "body": json.dumps(body)}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job_id = (event.get("pathParameters") or {}).get("jobId")
    bind(**({"jobId": job_id} if job_id else {}))
    return unreadable_body(event) or unknown_query_parameter(event) or app.resolve(event, context)
