"""HTTP transport shared by the adapters: one pooled Session, timeouts, and error classification.

No retries happen here on purpose (urllib3 `max_retries=0`): a retried POST could start a second
paid prediction, and upstream retries (SQS, Step Functions) already back off and count attempts.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from genjobs.providers.base import ProviderRejected, ProviderThrottled, ProviderUnavailable

# (connect, read) seconds. Connect is short: a provider that does not accept a connection in 3 s is
# down. Read leaves room for a slow create under load while staying well inside a Lambda timeout.
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 20.0)
# How long after its `Prefer: wait` a synchronous create may take to answer before it counts as lost.
SYNC_ANSWER_MARGIN_SECONDS = 5.0
# Used when a 429 carries no hint at all.
DEFAULT_RETRY_AFTER_SECONDS = 10.0

_RESET_HINT = re.compile(
    r"(?:resets in|available in)\s*~?\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?|m|min|minutes?)\b",
    re.IGNORECASE,
)


def prefer_wait(
    timeout_seconds: float, connect_timeout: float, longest: int | None = None
) -> tuple[str, tuple[float, float]]:
    """The `Prefer` header value of a synchronous create (RFC 7240 `wait`, whole seconds within the
    deadline, at least 1, at most `longest` where the provider caps it) and the (connect, read)
    timeout of that call: the server holds the answer up to the wait, then answers at once."""
    seconds = max(1, math.floor(timeout_seconds))
    if longest is not None:
        seconds = min(seconds, longest)
    return f"wait={seconds}", (connect_timeout, seconds + SYNC_ANSWER_MARGIN_SECONDS)


def new_session(pool_size: int = 16) -> requests.Session:
    """A Session with keep-alive pooling and no automatic retries."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# Module-level so warm Lambda invocations reuse TLS connections.
SHARED_SESSION = new_session()


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    params: dict[str, str] | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ok_statuses: frozenset[int] = frozenset(),
) -> requests.Response:
    """Send one request and classify any failure; returns only 2xx (or a listed status) responses."""
    try:
        response = session.request(
            method, url, headers=headers, json=json_body, params=params, timeout=timeout
        )
    except requests.ConnectTimeout as exc:
        raise ProviderUnavailable(f"{method} {url}: connect timeout", request_sent=False) from exc
    except requests.ReadTimeout as exc:
        raise ProviderUnavailable(f"{method} {url}: read timeout") from exc
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
        raise ProviderRejected(f"{method} {url}: invalid URL ({exc})") from exc
    except requests.ConnectionError as exc:
        # Refused/reset before anything was sent is indistinguishable here from a dropped response,
        # so assume the request may have been processed.
        raise ProviderUnavailable(f"{method} {url}: connection error ({exc})") from exc
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"{method} {url}: {exc}") from exc
    if response.ok or response.status_code in ok_statuses:
        return response
    raise classify_error_response(response)


def classify_error_response(response: requests.Response) -> Exception:
    status = response.status_code
    message = f"HTTP {status}: {error_message(response)}"
    if status == 429:
        return ProviderThrottled(retry_after_seconds(response), message)
    if status >= 500 or status == 408:
        return ProviderUnavailable(message, status_code=status)
    return ProviderRejected(message, status_code=status)


def error_message(response: requests.Response) -> str:
    """The most useful human text of an error body (Replicate `detail`, RFC 7807 `title`, ...)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason or "no body"
    if isinstance(body, dict):
        for key in ("detail", "error", "message", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if value:
                return json.dumps(value)[:500]
    return json.dumps(body)[:500]


def retry_after_seconds(response: requests.Response, default: float = DEFAULT_RETRY_AFTER_SECONDS) -> float:
    """Retry-After header (seconds or HTTP date), else a hint in the body text, else `default`.

    Replicate documents both "Your rate limit resets in ~30s." and "Expected available in 1 second."
    """
    header = response.headers.get("Retry-After")
    if header:
        parsed = _parse_retry_after_header(header)
        if parsed is not None:
            return parsed
    match = _RESET_HINT.search(response.text or "")
    if match:
        value, unit = float(match.group(1)), match.group(2).lower()
        if unit.startswith(("ms", "milli")):
            return value / 1000.0
        if unit.startswith("m"):
            return value * 60.0
        return value
    return default


def _parse_retry_after_header(header: str) -> float | None:
    try:
        value = float(header)
    except ValueError:
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())
    return value if math.isfinite(value) and value >= 0 else None


def json_object(response: requests.Response) -> dict[str, Any]:
    """A 2xx body that must be a JSON object; anything else is an unusable (transient) answer."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderUnavailable(
            f"{response.request.method} {response.url}: body is not JSON", status_code=response.status_code
        ) from exc
    if not isinstance(body, dict):
        raise ProviderUnavailable(
            f"{response.request.method} {response.url}: body is not a JSON object",
            status_code=response.status_code,
        )
    return body
