"""Public provider webhook endpoint: POST /webhooks/{provider}?job=...&task=..."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from genjobs.deps import deps
from genjobs.logic import webhooks
from genjobs.logic.errors import DomainError
from genjobs.models.messages import ReceivedWebhook
from genjobs.models.problems import Problem
from genjobs.models.webhook import WebhookQuery
from genjobs.observability import bind, logger, metrics, tracer


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def _query_problem(error: ValidationError) -> dict[str, Any]:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "query", "reason": e["msg"]} for e in error.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return Problem.of(400, "Bad request", detail, errors).proxy_response()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    provider = (event.get("pathParameters") or {}).get("provider", "")
    try:
        query = WebhookQuery.model_validate(event.get("queryStringParameters") or {})
    except ValidationError as error:
        return _query_problem(error)
    raw = event.get("body") or ""
    try:
        body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode()
    except (binascii.Error, ValueError):
        return Problem.of(
            400,
            "Malformed delivery",
            "body: not valid base64",
            [{"field": "body", "reason": "not valid base64"}],
        ).proxy_response()
    bind(jobId=query.job, taskIndex=query.task, provider=provider)
    received = ReceivedWebhook(provider=provider, query=query, headers=event.get("headers") or {}, body=body)
    try:
        outcome = webhooks.receive(deps(), received)
    except DomainError as error:
        logger.warning("webhook refused", extra={"status": error.status, "detail": error.detail})
        return Problem.of(error.status, error.title, error.detail, error.errors).proxy_response()
    return _answer(200, {"result": outcome})
