"""The public HTTP API (API Gateway HTTP API, payload v2, JWT authorizer): the resolver, its
routers (genjobs.routes), the guards every request passes and how refusals are answered."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.logic.errors import DomainError
from genjobs.models import stored
from genjobs.observability import logger, metrics, tracer
from genjobs.routes import accounts, credits, devices, document, guards, jobs, operations, problems


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


# Powertools runs its request validation ahead of every middleware when `enable_validation` is on,
# but a body must be refused (media type, size, encoding) before anything parses it: so validation
# is the resolver's own middlewares, placed after the guards.
app = APIGatewayHttpResolver(json_body_deserializer=parse_json_body)
app.use(
    middlewares=[
        guards.correlate_job,
        guards.refuse_unreadable_body,
        guards.refuse_unknown_query_parameters,
        OpenAPIRequestValidationMiddleware(),  # type: ignore[no-untyped-call]
        OpenAPIResponseValidationMiddleware(),
    ]
)
for resource in (jobs, credits, accounts, devices, operations, document):
    app.include_router(resource.router)

app.exception_handler(DomainError)(problems.domain_error)
app.exception_handler(RequestValidationError)(problems.invalid_request)
app.not_found(problems.no_route)


def openapi_document() -> str:
    return document.openapi_document(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
