"""The live channel's WebSocket routes (API Gateway WebSocket API): $connect with the user's token,
`subscribe` to one job or all, $disconnect."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, ValidationError

from genjobs.deps import deps
from genjobs.logic import live_access
from genjobs.logic.errors import DomainError, Forbidden
from genjobs.models.live import SubscribeMessage
from genjobs.observability import bind, logger


class ConnectEvent(APIGatewayWebSocketConnectEventModel):
    # A browser cannot set headers on a WebSocket: the token and the job come in the query string.
    query_string_parameters: dict[str, str] | None = Field(default=None, alias="queryStringParameters")


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body, separators=(",", ":"))}


def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    request = parse(event=event, model=ConnectEvent)
    query = request.query_string_parameters or {}
    try:
        connection = live_access.connect(
            deps(), request.request_context.connection_id, query.get("token"), query.get("jobId")
        )
    except Forbidden as refusal:
        return _answer(401, {"type": "error", "status": 401, "detail": refusal.detail})
    except DomainError as refusal:
        return _answer(refusal.status, {"type": "error", "status": refusal.status, "detail": refusal.detail})
    bind(userId=connection.user_id)
    return _answer(200, {"type": "connected"})


def on_subscribe(event: dict[str, Any]) -> dict[str, Any]:
    request = parse(event=event, model=APIGatewayWebSocketMessageEventModel)
    try:
        message = SubscribeMessage.model_validate_json(str(request.body or ""))
        connection = live_access.subscribe(deps(), request.request_context.connection_id, message.job_id)
    except ValidationError as error:
        return _answer(400, {"type": "error", "status": 400, "detail": str(error.errors()[0]["msg"])})
    except DomainError as refusal:
        return _answer(refusal.status, {"type": "error", "status": refusal.status, "detail": refusal.detail})
    return _answer(200, {"type": "subscribed", "jobId": connection.job_id})


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    request = parse(event=event, model=APIGatewayWebSocketDisconnectEventModel)
    live_access.disconnect(deps(), request.request_context.connection_id)
    return {"statusCode": 200}


ROUTES = {"$connect": on_connect, "$disconnect": on_disconnect, "subscribe": on_subscribe}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = event.get("requestContext", {}).get("routeKey", "")
    bind(connectionId=event.get("requestContext", {}).get("connectionId"))
    if route not in ROUTES:
        return _answer(400, {"type": "error", "status": 400, "detail": 'send {"action": "subscribe"}'})
    return ROUTES[route](event)
