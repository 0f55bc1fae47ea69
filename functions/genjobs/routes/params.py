"""What the routes declare for the OpenAPI document: shared parameters and the documented answers."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from genjobs.models.api import AuthorizerError
from genjobs.models.problems import PROBLEM_JSON, Problem

JobId = Annotated[str, Path(description="The job's id.", min_length=1, max_length=64)]
UserId = Annotated[
    str, Path(description="The user's id (the `sub` of their token).", min_length=1, max_length=128)
]
SignalName = Annotated[
    str, Path(description="The name of a signal step of the job.", min_length=1, max_length=32)
]
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


def responses(
    code: int, model: type[Any] | None, description: str, *problems: int | tuple[int, str]
) -> dict[int, Any]:
    """OpenAPI responses of a route: its success and the problems (RFC 9457) it can answer with, each
    a status (described as PROBLEMS says) or a (status, what it means on this route)."""
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
    described = dict(p if isinstance(p, tuple) else (p, PROBLEMS[p]) for p in problems)
    for status in sorted({422, *described}):
        documented[status] = {
            "description": described.get(status, PROBLEMS[status]),
            "content": {PROBLEM_JSON: {"model": Problem}},
        }
    return documented
