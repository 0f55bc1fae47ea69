"""Public provider webhook endpoint: POST /webhooks/{provider}?job=...&task=..."""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import webhooks
from genjobs.logic.errors import DomainError
from genjobs.observability import bind, logger, metrics, tracer


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    provider = (event.get("pathParameters") or {}).get("provider", "")
    query = event.get("queryStringParameters") or {}
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    try:
        task_index = int(query.get("task", ""))
        job_id = query["job"]
    except (KeyError, ValueError):
        return _answer(
            400, {"title": "Bad request", "detail": "the job and task query parameters are required"}
        )
    bind(jobId=job_id, taskIndex=task_index, provider=provider)
    try:
        outcome = webhooks.receive(deps(), provider, job_id, task_index, event.get("headers") or {}, body)
    except DomainError as error:
        logger.warning("webhook refused", extra={"status": error.status, "detail": error.detail})
        return _answer(error.status, {"title": error.title, "detail": error.detail})
    return _answer(200, {"result": outcome})
