"""Every refusal of the API as an RFC 9457 problem: domain errors, request validation, no route."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response

from genjobs.models.problems import PROBLEM_JSON, Problem

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

    from genjobs.logic.errors import DomainError


def problem_response(problem: Problem) -> Response[str]:
    return Response(status_code=problem.status, content_type=PROBLEM_JSON, body=problem.body())


def domain_error(error: DomainError) -> Response[str]:
    return problem_response(Problem.of(error.status, error.title, error.detail, error.errors))


def invalid_request(error: RequestValidationError) -> Response[str]:
    problems = []
    for e in error.errors():
        location = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        if e.get("type") in {"json_invalid", "json_type"}:
            cause = (e.get("ctx") or {}).get("error")
            reason = f"{e.get('msg')}: {cause}" if cause else str(e.get("msg"))
            return problem_response(
                Problem.of(
                    400,
                    "Malformed JSON",
                    "the request body is not valid JSON",
                    [{"field": "body", "reason": reason}],
                )
            )
        if location and location[0] in ("query", "path", "header"):
            location = location[1:]
        # A path below the field named by the error itself, e.g. input.a.b (see models.stored), or the
        # field a whole-request check refused.
        below = str((e.get("ctx") or {}).get("path", ""))
        field = ".".join([*location, below] if below else location)
        problems.append({"field": field or "body", "reason": str(e.get("msg", "invalid"))})
    detail = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return problem_response(Problem.of(422, "Invalid request", detail, problems))


def no_route(_: Exception) -> Response[str]:
    return problem_response(Problem.of(404, "Not found", "no such route"))
