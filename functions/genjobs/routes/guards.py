"""Middlewares every request goes through before its route is validated and called."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.openapi.params import get_flat_dependant

from genjobs.deps import deps
from genjobs.models.problems import Problem
from genjobs.observability import bind
from genjobs.routes.problems import problem_response

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
    from aws_lambda_powertools.event_handler.api_gateway import Route
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware


def unreadable_body(event: Mapping[str, Any], limit: int) -> Problem | None:
    """Why a body cannot be parsed, or None. Validation would fail on a form without a boundary or
    bytes that are not UTF-8 instead of answering a problem; the size limit applies to the body's
    bytes, not to their base64 encoding."""
    body = event.get("body")
    if not body:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        reason = f"the body must be application/json, not {media_type}"
        return Problem.on_field(415, "Unsupported media type", "Content-Type", reason)
    raw: bytes = body.encode("utf-8", "surrogatepass")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body)
        except ValueError:
            return Problem.on_field(400, "Malformed JSON", "body", "the body is not valid base64")
    if len(raw) > limit:
        reason = f"the body is over the limit of {limit} bytes"
        return Problem.on_field(413, "Payload too large", "body", reason)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return Problem.on_field(400, "Malformed JSON", "body", "the body is not UTF-8 text")
    return None


def declared_query_parameters(route: Route) -> frozenset[str]:
    """The query parameters a route declares: those of its signature and its dependencies', by their
    public names, as the OpenAPI document lists them."""
    return frozenset(field.alias for field in get_flat_dependant(route.dependant).query_params)


def unknown_query_parameter(given: Mapping[str, Any], route: Route) -> Problem | None:
    """A misspelt filter (e.g. `colectionId`) is refused instead of silently returning everything."""
    unknown = sorted(set(given) - declared_query_parameters(route))
    if not unknown:
        return None
    return Problem.on_field(422, "Invalid request", unknown[0], "unknown query parameter")


def correlate_job(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Labels every log line of a request about one job with its jobId."""
    job_id = app.request.path_parameters.get("jobId")
    bind(**({"jobId": job_id} if job_id else {}))
    return next_middleware(app)


def refuse_unreadable_body(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    problem = unreadable_body(app.current_event.raw_event, deps().settings.max_body_bytes)
    return problem_response(problem) if problem else next_middleware(app)


def refuse_unknown_query_parameters(
    app: APIGatewayHttpResolver, next_middleware: NextMiddleware
) -> Response[Any]:
    # The matched route (or the one answering 404) is where powertools' own middlewares find it.
    route: Route = app.context["_route"]
    problem = unknown_query_parameter(app.current_event.query_string_parameters, route)
    return problem_response(problem) if problem else next_middleware(app)
