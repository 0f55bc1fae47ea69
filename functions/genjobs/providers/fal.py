"""fal queue API adapter (https://docs.fal.ai/model-endpoints/queue).

- submit: POST {queue}/{model_id}[/{subpath}] with the input as body, `?fal_webhook=URL` for a
  webhook; answers request_id plus status/response/cancel URLs.
- status: GET {queue}/{app_id}/requests/{id}/status?logs=1 -> IN_QUEUE (queue_position),
  IN_PROGRESS (logs: progress is their last percentage), COMPLETED; on COMPLETED the result is
  fetched from the response URL and every file URL in it is an output.
- cancel: PUT .../cancel -> CANCELLATION_REQUESTED (202), ALREADY_COMPLETED (400), NOT_FOUND (404).
- run: not offered. fal's synchronous endpoint (https://fal.run/<model>) has no request id to
  find the request again after a lost answer; a fal model runs as an async step instead.
- webhooks: fal signs with ED25519 (keys published as a JWKS). Verification here is offline
  against the public key(s) given to the constructor (JWK dicts, a JWKS, PEM, or base64url `x`):
  fetching the JWKS is a deployment concern (keep it in the provider secret, refresh on rotation).
  It needs the `cryptography` package, imported only when a fal webhook is verified.

Provider ids are "{app_path}::{request_id}", the app path being that of the URLs submit returns
(status_url, response_url, cancel_url, which fal's client uses as given): status, result and cancel
call exactly those URLs, while fal webhooks name only the request id (see WebhookDelivery.matches).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from typing import Any

import requests

from genjobs.providers import transport, webhooks
from genjobs.providers.base import (
    PROVIDER_ID_SEPARATOR,
    CancelOutcome,
    ProviderRejected,
    ProviderStatus,
    ProviderUnavailable,
    Submission,
    SubmitRequest,
    TaskState,
    WebhookDelivery,
    WebhookRejected,
    map_status,
)
from genjobs.providers.parsing import file_urls_in, progress_from_logs

DEFAULT_BASE_URL = "https://queue.fal.run"
TOLERANCE_SECONDS = 5 * 60

STATUS_TABLE: Mapping[str, TaskState] = {
    "IN_QUEUE": TaskState.QUEUED,
    "IN_PROGRESS": TaskState.RUNNING,
    "COMPLETED": TaskState.SUCCEEDED,  # until the result says otherwise (see FalProvider.status)
}
WEBHOOK_STATUS_TABLE: Mapping[str, TaskState] = {"OK": TaskState.SUCCEEDED, "ERROR": TaskState.FAILED}
CANCEL_TABLE: Mapping[str, CancelOutcome] = {
    "OK": CancelOutcome.CANCELED,  # removed from the queue before it started
    "CANCELLATION_REQUESTED": CancelOutcome.REQUESTED,  # running: only signalled
    "ALREADY_COMPLETED": CancelOutcome.ALREADY_FINISHED,
    "NOT_FOUND": CancelOutcome.NOT_FOUND,
}
_CANCEL_BY_HTTP_STATUS = {400: CancelOutcome.ALREADY_FINISHED, 404: CancelOutcome.NOT_FOUND}


# Namespaces whose apps have three segments (namespace/owner/alias), as fal's client parses
# endpoint ids (AppId.from_endpoint_id).
APP_NAMESPACES = ("workflows", "comfy")


def app_id_of(model: str) -> str:
    """'fal-ai/flux/dev' -> 'fal-ai/flux', 'workflows/acme/flow/x' -> 'workflows/acme/flow': the app
    whose queue holds the request (status and result URLs omit the subpath).

    Only a fallback: the app path of the URLs that submit returns is what status, result and
    cancel use (see FalProvider.submit)."""
    parts = model.strip("/").split("/")
    return "/".join(parts[: 3 if parts[0] in APP_NAMESPACES else 2])


def split_provider_id(provider_id: str) -> tuple[str, str]:
    app_id, sep, request_id = provider_id.rpartition(PROVIDER_ID_SEPARATOR)
    if not sep or not app_id or not request_id:
        raise ProviderRejected(f"not a fal provider id (app::request): {provider_id!r}")
    return app_id, request_id


def _log_messages(logs: Any) -> list[str]:
    if not isinstance(logs, list):
        return []
    return [str(entry.get("message", "")) for entry in logs if isinstance(entry, dict)]


def _position(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _failed(provider_id: str, error: str, raw: str) -> ProviderStatus:
    return ProviderStatus(provider_id=provider_id, state=TaskState.FAILED, error=error, raw_status=raw)


def _error_text(value: Any) -> str | None:
    if not value:
        return None
    return value if isinstance(value, str) else str(value)


class FalProvider:
    name = "fal"
    supports_webhooks = True

    def __init__(
        self,
        api_key: str,
        webhook_public_keys: list[Any] | Mapping[str, Any] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = transport.DEFAULT_TIMEOUT,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Key {api_key}", "Content-Type": "application/json"}
        self._session = session or transport.SHARED_SESSION
        self._timeout = timeout
        self._public_keys = _normalise_keys(webhook_public_keys)
        self.supports_webhooks = bool(self._public_keys)

    def submit(self, req: SubmitRequest) -> Submission:
        params = {"fal_webhook": req.webhook_url} if req.webhook_url else None
        response = transport.send(
            self._session,
            "POST",
            f"{self._base}/{req.model.strip('/')}",
            headers=self._headers,
            json_body=req.input,
            params=params,
            timeout=self._timeout,
        )
        body = transport.json_object(response)
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise ProviderRejected("fal submit answered without a request_id")
        app_path = self._app_path_of(body, request_id) or app_id_of(req.model)
        provider_id = f"{app_path}{PROVIDER_ID_SEPARATOR}{request_id}"
        queued = ProviderStatus(
            provider_id=provider_id,
            state=TaskState.QUEUED,
            queue_position=_position(body.get("queue_position")),
            raw_status=str(body.get("status") or "IN_QUEUE"),
        )
        return Submission(provider_id=provider_id, status=queued)

    def run(self, request: SubmitRequest, timeout_seconds: float) -> ProviderStatus:
        raise ProviderRejected(f"fal has no synchronous mode here: run {request.model!r} as an async step")

    def _app_path_of(self, body: Mapping[str, Any], request_id: str) -> str | None:
        """The app path of the request URLs submit returned (response_url, status_url, cancel_url),
        which fal's client uses as given; kept in the provider id, so status, result and cancel
        call exactly those URLs. None when they are missing or not on the queue host this adapter
        calls (the API key is sent to no other host)."""
        response_url = body.get("response_url")
        prefix, suffix = f"{self._base}/", f"/requests/{request_id}"
        if not isinstance(response_url, str) or not response_url.startswith(prefix):
            return None
        if not response_url.endswith(suffix) or len(response_url) <= len(prefix) + len(suffix):
            return None
        for key, expected in (
            ("status_url", f"{response_url}/status"),
            ("cancel_url", f"{response_url}/cancel"),
        ):
            if body.get(key) not in (None, expected):
                return None
        return response_url[len(prefix) : -len(suffix)]

    def _request_url(self, provider_id: str) -> str:
        app_id, request_id = split_provider_id(provider_id)
        return f"{self._base}/{app_id}/requests/{request_id}"

    def status(self, provider_id: str) -> ProviderStatus:
        request_url = self._request_url(provider_id)
        response = transport.send(
            self._session,
            "GET",
            f"{request_url}/status",
            headers=self._headers,
            params={"logs": "1"},
            timeout=self._timeout,
        )
        body = transport.json_object(response)
        raw = str(body.get("status") or "")
        state, mapping_error = map_status(STATUS_TABLE, raw)
        if state is TaskState.FAILED:
            return ProviderStatus(provider_id=provider_id, state=state, error=mapping_error, raw_status=raw)
        if state is TaskState.QUEUED:
            return ProviderStatus(
                provider_id=provider_id,
                state=state,
                queue_position=_position(body.get("queue_position")),
                raw_status=raw,
            )
        if state is TaskState.RUNNING:
            return ProviderStatus(
                provider_id=provider_id,
                state=state,
                progress=progress_from_logs(_log_messages(body.get("logs"))),
                raw_status=raw,
            )
        # COMPLETED covers failures too: an `error` on the status, or an error answer for the result.
        if error := _error_text(body.get("error")):
            return _failed(provider_id, error, raw)
        return self._completed(provider_id, str(body.get("response_url") or request_url), raw)

    def _completed(self, provider_id: str, response_url: str, raw: str) -> ProviderStatus:
        try:
            response = transport.send(
                self._session, "GET", response_url, headers=self._headers, timeout=self._timeout
            )
        except ProviderRejected as exc:
            if exc.status_code in (404, 410):
                raise  # the result is gone or the id is wrong: not the model's failure
            # fal answers the result URL with the app's own 4xx (e.g. 422 validation) when it failed.
            return _failed(provider_id, str(exc), raw)
        result = transport.json_object(response)
        outputs = file_urls_in(result)
        if not outputs:
            # Completed without a single file: nothing to deliver is a failure for a generation task.
            return _failed(provider_id, "completed without any output file", raw)
        return ProviderStatus(
            provider_id=provider_id,
            state=TaskState.SUCCEEDED,
            progress=100.0,
            outputs=outputs,
            raw_status=raw,
        )

    def cancel(self, provider_id: str) -> CancelOutcome:
        response = transport.send(
            self._session,
            "PUT",
            f"{self._request_url(provider_id)}/cancel",
            headers=self._headers,
            timeout=self._timeout,
            ok_statuses=frozenset(_CANCEL_BY_HTTP_STATUS),
        )
        try:
            raw = str(response.json().get("status") or "")
        except (ValueError, AttributeError):
            raw = ""
        outcome = CANCEL_TABLE.get(raw) or _CANCEL_BY_HTTP_STATUS.get(response.status_code)
        if outcome is None:
            raise ProviderUnavailable(f"fal cancel answered an unknown status {raw!r}", status_code=200)
        return outcome

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> WebhookDelivery:
        request_id = _verify_fal_signature(self._public_keys, headers, body, now)
        document = webhooks.json_body(body)
        if document.get("request_id") not in (None, request_id):
            raise WebhookRejected("body request_id differs from the signed X-Fal-Webhook-Request-Id")
        raw = str(document.get("status") or "")
        state, mapping_error = map_status(WEBHOOK_STATUS_TABLE, raw)
        payload = document.get("payload")
        error = None
        outputs: list[str] = []
        if state is TaskState.SUCCEEDED:
            outputs = file_urls_in(payload)
            if payload is None:
                # fal could not serialise the result into the webhook: it is still at the result URL.
                error = f"payload not delivered ({document.get('payload_error')}); poll status() for outputs"
        else:
            error = _error_text(document.get("error")) or mapping_error or "fal reported an error"
        status = ProviderStatus(
            provider_id=request_id,
            state=state,
            progress=100.0 if state is TaskState.SUCCEEDED else None,
            outputs=outputs,
            error=error,
            raw_status=raw,
        )
        # fal has no delivery id and retries the same event: request id + status is stable across retries.
        return WebhookDelivery(delivery_id=f"{request_id}:{raw}", provider_id=request_id, status=status)


def _verify_fal_signature(
    keys: list[bytes], headers: Mapping[str, str], body: bytes, now: float | None
) -> str:
    if not keys:
        raise WebhookRejected("no fal webhook public key configured")
    request_id = webhooks.header(headers, "x-fal-webhook-request-id")
    user_id = webhooks.header(headers, "x-fal-webhook-user-id")
    timestamp = webhooks.header(headers, "x-fal-webhook-timestamp")
    signature_hex = webhooks.header(headers, "x-fal-webhook-signature")
    if not request_id or not user_id or not timestamp or not signature_hex:
        raise WebhookRejected("missing X-Fal-Webhook-* headers")
    try:
        moment = int(timestamp)
        signature = bytes.fromhex(signature_hex)
    except ValueError as exc:
        raise WebhookRejected("malformed fal webhook timestamp or signature") from exc
    if abs((time.time() if now is None else now) - moment) > TOLERANCE_SECONDS:
        raise WebhookRejected("fal webhook timestamp is outside the 5 minute tolerance")
    message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    for raw_key in keys:
        try:
            Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            continue
        return request_id
    raise WebhookRejected("fal webhook signature matches no configured key")


def _normalise_keys(keys: list[Any] | Mapping[str, Any] | None) -> list[bytes]:
    """Raw 32-byte ED25519 public keys from JWK dicts, a JWKS, PEM text or base64url `x` values."""
    if keys is None:
        return []
    if isinstance(keys, Mapping):
        keys = list(keys.get("keys", [keys]))
    raw: list[bytes] = []
    for key in keys:
        if isinstance(key, Mapping):
            if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
                continue  # not an ED25519 key: a JWKS may list others
            raw.append(_b64url(str(key["x"])))
        elif isinstance(key, bytes) and len(key) == 32:
            raw.append(key)
        elif isinstance(key, str) and "BEGIN PUBLIC KEY" in key:
            raw.append(_pem_to_raw(key))
        elif isinstance(key, str):
            raw.append(_b64url(key))
        else:
            raise ValueError(f"unsupported fal public key: {type(key).__name__}")
    return raw


def _b64url(value: str) -> bytes:
    decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if len(decoded) != 32:
        raise ValueError("an ED25519 public key is 32 bytes")
    return decoded


def _pem_to_raw(pem: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("PEM key is not ED25519")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
