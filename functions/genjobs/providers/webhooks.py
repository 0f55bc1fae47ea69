"""Standard Webhooks (https://www.standardwebhooks.com) signing and verification.

Replicate and our simulator sign this way: `webhook-signature` holds one or more space-separated
"v1,<base64 HMAC-SHA256>" over f"{webhook-id}.{webhook-timestamp}.{raw body}", keyed with the
base64 part of a "whsec_..." secret. Several signatures appear while a secret is being rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genjobs.providers.base import MalformedDelivery, WebhookRejected

TOLERANCE_SECONDS = 5 * 60
_SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class VerifiedWebhook:
    webhook_id: str
    timestamp: int


def decode_secret(secret: str) -> bytes:
    raw = secret.removeprefix(_SECRET_PREFIX)
    # Secrets are often copied without their "=" padding; the reference library and Svix accept
    # them, so the padding is restored rather than every delivery failing to verify.
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The "v1,<base64>" signature of one delivery."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, webhook_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a signed delivery; used by the simulator and tests."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, webhook_id, ts, body),
        "content-type": "application/json",
    }


def header(headers: Mapping[str, str], name: str) -> str | None:
    # API Gateway lower-cases header names, other callers may not.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def verify(
    secrets: str | list[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> VerifiedWebhook:
    """Verify a delivery against one secret or several (during rotation); raise WebhookRejected."""
    webhook_id = header(headers, "webhook-id")
    timestamp_text = header(headers, "webhook-timestamp")
    signature_header = header(headers, "webhook-signature")
    if not webhook_id or not timestamp_text or not signature_header:
        raise WebhookRejected("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise WebhookRejected("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    # Both ways: a timestamp from the future is as suspicious as a replayed old one.
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookRejected(f"webhook-timestamp is outside the {tolerance_seconds}s tolerance")
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    expected = [sign(secret, webhook_id, timestamp, body).encode() for secret in candidates]
    for entry in signature_header.split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        given = ("v1," + value).encode()
        if any(hmac.compare_digest(given, wanted) for wanted in expected):
            return VerifiedWebhook(webhook_id=webhook_id, timestamp=timestamp)
    raise WebhookRejected("no webhook-signature matches")


def json_body(body: bytes) -> dict[str, Any]:
    """A verified delivery's body as a JSON object; anything else is a malformed delivery."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise MalformedDelivery("webhook body is not JSON") from exc
    if not isinstance(document, dict):
        raise MalformedDelivery("webhook body is not a JSON object")
    return document
