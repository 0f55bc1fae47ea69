"""Page cursors: opaque, bound to the caller and the listing, refused when tampered with.

A cursor is DynamoDB's LastEvaluatedKey sealed with AES-GCM under the API's cursor key, with the
caller and the listing it came from (e.g. one job's tasks) as associated data: nobody can read it,
forge one, or use it for another user or another listing. Any such attempt, and any cursor this
API did not issue, is a 400 naming `cursor`; a forged start key never reaches DynamoDB (where a
key of the wrong shape or partition answered 500).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from genjobs.logic.errors import DomainError

NONCE_BYTES = 12


class InvalidCursor(DomainError):
    status = 400
    title = "Invalid cursor"

    def __init__(self) -> None:
        reason = "not a cursor this API returned to this caller for this listing"
        super().__init__(f"cursor: {reason}", errors=[{"field": "cursor", "reason": reason}])


def _associated(user_id: str, listing: str) -> bytes:
    return json.dumps([user_id, listing]).encode()


def seal(key: bytes, last_key: dict[str, Any] | None, *, user_id: str, listing: str) -> str | None:
    """The cursor of the page after the one that ended at `last_key` (None: there is none)."""
    if not last_key:
        return None
    # Imported by the first listing with a next page, not by the API's cold start.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(last_key).encode(), _associated(user_id, listing))
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_cursor(key: bytes, cursor: str | None, *, user_id: str, listing: str) -> dict[str, Any] | None:
    """The start key a cursor stands for; raises InvalidCursor for anything `seal` did not issue
    for this caller and listing."""
    if not cursor:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor() from error
    if len(raw) <= NONCE_BYTES:
        raise InvalidCursor()
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(user_id, listing))
    except InvalidTag as error:
        raise InvalidCursor() from error
    start = json.loads(plain)
    if not isinstance(start, dict):  # only `seal` could have written it: a bug, not a bad request
        raise TypeError("a sealed cursor holds a key")
    return start


def jobs_listing() -> str:
    return "GET /jobs"


def operator_jobs_listing() -> str:
    return "GET /admin/jobs"


def tasks_listing(job_id: str, step: str | None = None) -> str:
    return f"GET /jobs/{job_id}/tasks" + (f"?step={step}" if step else "")


def events_listing(job_id: str) -> str:
    return f"GET /jobs/{job_id}/events"
