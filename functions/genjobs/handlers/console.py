"""The web console on the HTTP API (GET /console, GET /console/{proxy+}, no authorizer): its static
files and config.json (genjobs.routes.console). It reads no data and calls no AWS service."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.observability import logger, tracer
from genjobs.routes import console

app = APIGatewayHttpResolver()
app.include_router(console.router)
app.not_found(lambda _: console.not_found())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
