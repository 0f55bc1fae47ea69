"""Replicate predictions API adapter (https://replicate.com/docs/reference/http).

- submit: POST /v1/predictions {version, input, webhook, webhook_events_filter}; a bare
  "owner/name" model (no version) goes to POST /v1/models/{owner}/{name}/predictions.
- status: GET /v1/predictions/{id}. There is no progress field: progress is the last progress-bar
  line of `logs` (tqdm), as the official client reads it. Outputs are what `output` holds, in its
  order (see outputs_of): file URLs, inline `data:` URIs, and text, which is kept as a text file.
- cancel: POST /v1/predictions/{id}/cancel, which answers with the prediction.
- webhooks: the body is the prediction, signed Standard-Webhooks style with the account secret.
- run (sync mode): the create with `Prefer: wait=N` (N at most 60) answers once the prediction
  ended, or with its current state when N seconds passed (then SyncDeadlinePassed carries it, so
  the caller can poll it instead of creating another).

Replicate has no idempotency key: a create whose response was lost (ProviderUnavailable with
`request_sent=True`) may have started a prediction; the error says so and the caller decides.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import requests

from genjobs.providers import transport, webhooks
from genjobs.providers.base import (
    CancelOutcome,
    MalformedDelivery,
    ProviderRejected,
    ProviderStatus,
    Submission,
    SubmitRequest,
    TaskState,
    WebhookDelivery,
    WebhookRejected,
    finished,
    map_status,
)
from genjobs.providers.parsing import is_data_uri, is_url, progress_from_logs

DEFAULT_BASE_URL = "https://api.replicate.com"
# Start (progress shows it left the queue) and completed; logs/output events would flood the webhook.
DEFAULT_WEBHOOK_EVENTS = ("start", "completed")
# The longest `Prefer: wait` Replicate honours.
LONGEST_SYNC_WAIT_SECONDS = 60

STATUS_TABLE: Mapping[str, TaskState] = {
    "starting": TaskState.QUEUED,
    "processing": TaskState.RUNNING,
    "succeeded": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "canceled": TaskState.CANCELED,
    # Deadline (Cancel-After) hit before the prediction started; not charged. Terminal.
    "aborted": TaskState.FAILED,
}
_TERMINAL_ERRORS = {"aborted": "aborted by Replicate: deadline reached before it started (not charged)"}


def _inline(content: str, content_type: str) -> str:
    """Text kept as an output: an RFC 2397 data: URI that output custody stores like a file."""
    return f"data:{content_type};charset=utf-8;base64,{base64.b64encode(content.encode()).decode()}"


def _is_file(value: Any) -> bool:
    return is_url(value) or is_data_uri(value)


def outputs_of(output: Any) -> list[str]:
    """A succeeded prediction's outputs, in the model's order, each a URL that custody can store.

    - Files are URLs (https, or `data:` URIs when the prediction was created to return them inline).
    - Output with no file at all is itself the result: a string is a text file; a list of strings
      is a language model's token stream, which Replicate's clients concatenate into one text;
      anything else (numbers, objects) is kept as one JSON file.
    - Output with files keeps them in order, and a string that is not a file (a caption next to
      an image) becomes a text file in its place.
    """
    if output is None or output == "" or output == [] or output == {}:
        return []  # nothing delivered
    leaves: list[Any] = []

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for child in item:
                walk(child)
        elif isinstance(item, dict):
            for child in item.values():
                walk(child)
        else:
            leaves.append(item)

    walk(output)
    if not any(_is_file(leaf) for leaf in leaves):
        if isinstance(output, str):
            return [_inline(output, "text/plain")]
        if isinstance(output, list) and output and all(isinstance(item, str) for item in output):
            return [_inline("".join(output), "text/plain")]
        return [_inline(json.dumps(output, ensure_ascii=False), "application/json")]
    found: list[str] = []
    for leaf in leaves:
        if _is_file(leaf):
            if leaf not in found:
                found.append(leaf)
        elif isinstance(leaf, str) and leaf:
            found.append(_inline(leaf, "text/plain"))
    return found


def to_status(prediction: Mapping[str, Any]) -> ProviderStatus:
    """Our view of a Replicate prediction object (API response or webhook body)."""
    raw = str(prediction.get("status") or "")
    state, mapping_error = map_status(STATUS_TABLE, raw)
    error = prediction.get("error")
    error_text = (error if isinstance(error, str) else json.dumps(error)) if error else None
    if state is TaskState.FAILED:
        error_text = error_text or _TERMINAL_ERRORS.get(raw) or mapping_error or f"prediction {raw}"
    progress = 100.0 if state is TaskState.SUCCEEDED else progress_from_logs(prediction.get("logs"))
    return ProviderStatus(
        provider_id=str(prediction.get("id") or ""),
        state=state,
        progress=progress,
        # Only a succeeded prediction's outputs are results; partial `output` while processing is not.
        outputs=outputs_of(prediction.get("output")) if state is TaskState.SUCCEEDED else [],
        error=error_text,
        raw_status=raw,
    )


class ReplicateProvider:
    name = "replicate"
    supports_webhooks = True

    def __init__(
        self,
        api_token: str,
        webhook_secret: str | list[str] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        webhook_events: tuple[str, ...] = DEFAULT_WEBHOOK_EVENTS,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = transport.DEFAULT_TIMEOUT,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
        self._webhook_secret = webhook_secret
        self._webhook_events = list(webhook_events)
        self._session = session or transport.SHARED_SESSION
        self._timeout = timeout
        self.supports_webhooks = webhook_secret is not None

    def submit(self, req: SubmitRequest) -> Submission:
        status = self._create(req, {}, self._timeout)
        return Submission(provider_id=status.provider_id, status=status)

    def run(self, request: SubmitRequest, timeout_seconds: float) -> ProviderStatus:
        prefer, timeout = transport.prefer_wait(timeout_seconds, self._timeout[0], LONGEST_SYNC_WAIT_SECONDS)
        status = self._create(request, {"Prefer": prefer}, timeout)
        return finished(status, status.provider_id, min(timeout_seconds, LONGEST_SYNC_WAIT_SECONDS))

    def _create(
        self, req: SubmitRequest, extra_headers: dict[str, str], timeout: tuple[float, float]
    ) -> ProviderStatus:
        body: dict[str, Any] = {"input": req.input}
        if req.webhook_url:
            body["webhook"] = req.webhook_url
            body["webhook_events_filter"] = self._webhook_events
        owner_name, _, version = req.model.partition(":")
        if version or "/" not in req.model:
            body["version"] = req.model  # "owner/name:version" or a bare 64-hex version id
            url = f"{self._base}/v1/predictions"
        else:
            url = f"{self._base}/v1/models/{owner_name}/predictions"
        headers = {**self._headers, **extra_headers}
        if req.cancel_after_seconds:
            headers["Cancel-After"] = f"{req.cancel_after_seconds}s"
        response = transport.send(
            self._session, "POST", url, headers=headers, json_body=body, timeout=timeout
        )
        status = to_status(transport.json_object(response))
        if not status.provider_id:
            raise ProviderRejected("Replicate create answered without a prediction id")
        return status

    def status(self, provider_id: str) -> ProviderStatus:
        response = transport.send(
            self._session,
            "GET",
            f"{self._base}/v1/predictions/{provider_id}",
            headers=self._headers,
            timeout=self._timeout,
        )
        return to_status(transport.json_object(response))

    def cancel(self, provider_id: str) -> CancelOutcome:
        try:
            response = transport.send(
                self._session,
                "POST",
                f"{self._base}/v1/predictions/{provider_id}/cancel",
                headers=self._headers,
                timeout=self._timeout,
            )
        except ProviderRejected as exc:
            if exc.status_code == 404:
                return CancelOutcome.NOT_FOUND
            raise
        status = to_status(transport.json_object(response))
        if status.raw_status == "canceled":
            return CancelOutcome.CANCELED
        if status.state.is_terminal:
            return CancelOutcome.ALREADY_FINISHED
        return CancelOutcome.REQUESTED

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> WebhookDelivery:
        if self._webhook_secret is None:
            raise WebhookRejected("no Replicate webhook secret configured")
        verified = webhooks.verify(self._webhook_secret, headers, body, now)
        prediction = webhooks.json_body(body)
        status = to_status(prediction)
        if not status.provider_id:
            raise MalformedDelivery("webhook body has no prediction id")
        return WebhookDelivery(delivery_id=verified.webhook_id, provider_id=status.provider_id, status=status)
