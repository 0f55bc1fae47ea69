"""A configurable adapter for any "submit, get a task id, poll it" HTTP API.

This is the shape of a team's own AI server (e.g. a FastAPI app returning `task_id`): URL
templates, dotted JSON paths into its answers and an explicit status table are all it takes.
Webhooks are supported when the server signs them Standard-Webhooks style (`webhook_secret`).
A synchronous call (run) is the create sent with `Prefer: wait=N` (to `run_url` when the server has
a separate endpoint for it): the server holds the answer until the task ends or N seconds passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeGuard
from urllib.parse import quote

import requests
from pydantic import BaseModel, ConfigDict, Field

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
from genjobs.providers.parsing import (
    clamp_progress,
    first_at,
    get_path,
    is_data_uri,
    is_url,
    progress_from_logs,
)


class GenericHttpConfig(BaseModel):
    """Everything the generic adapter needs to know about one API. Templates take {base}, {id}, {model}."""

    model_config = ConfigDict(frozen=True)

    name: str = "generic"
    base_url: str
    submit_url: str = "{base}/tasks"
    run_url: str | None = Field(default=None, description="synchronous create; default: submit_url")
    status_url: str = "{base}/tasks/{id}"
    cancel_url: str | None = None
    cancel_method: Literal["POST", "PUT", "DELETE"] = "POST"
    submit_body: Literal["envelope", "input"] = Field(
        default="envelope", description="envelope: {model, input, <webhook_field>}; input: the input alone"
    )
    webhook_field: str = "webhook"
    id_path: str = "task_id"
    status_path: str = "status"
    status_map: dict[str, TaskState]
    progress_path: str | None = None
    progress_is_fraction: bool = Field(default=False, description="progress given as 0-1 instead of 0-100")
    logs_path: str | None = Field(default=None, description="fallback: parse the last percentage here")
    outputs_path: str | None = "outputs"
    error_path: str | None = "error"
    queue_position_path: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="e.g. {'Authorization': 'Bearer ...'}")
    idempotency_header: str | None = "Idempotency-Key"
    webhook_secret: str | None = None
    connect_timeout: float = transport.DEFAULT_TIMEOUT[0]
    read_timeout: float = transport.DEFAULT_TIMEOUT[1]


class GenericHttpProvider:
    def __init__(self, config: GenericHttpConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.name = config.name
        self.supports_webhooks = config.webhook_secret is not None
        self._session = session or transport.SHARED_SESSION
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._headers = {"Content-Type": "application/json", **config.headers}

    def _url(self, template: str, provider_id: str = "", model: str = "") -> str:
        return template.format(
            base=self.config.base_url.rstrip("/"), id=quote(provider_id, safe=""), model=model
        )

    def submit(self, req: SubmitRequest) -> Submission:
        document = self._create(self.config.submit_url, req, {}, self._timeout)
        provider_id = self._provider_id(document)
        status = (
            self.to_status(document, provider_id) if first_at(document, self.config.status_path) else None
        )
        return Submission(provider_id=provider_id, status=status)

    def run(self, request: SubmitRequest, timeout_seconds: float) -> ProviderStatus:
        prefer, timeout = transport.prefer_wait(timeout_seconds, self.config.connect_timeout)
        url = self.config.run_url or self.config.submit_url
        document = self._create(url, request, {"Prefer": prefer}, timeout)
        provider_id = self._provider_id(document)
        answered = first_at(document, self.config.status_path)
        return finished(
            self.to_status(document, provider_id) if answered else None, provider_id, timeout_seconds
        )

    def _create(
        self, url: str, req: SubmitRequest, extra_headers: dict[str, str], timeout: tuple[float, float]
    ) -> dict[str, Any]:
        cfg = self.config
        body: dict[str, Any]
        if cfg.submit_body == "envelope":
            body = {"model": req.model, "input": req.input}
            if req.webhook_url:
                body[cfg.webhook_field] = req.webhook_url
        else:
            body = dict(req.input)
        headers = {**self._headers, **extra_headers}
        if cfg.idempotency_header:
            headers[cfg.idempotency_header] = req.idempotency_key
        response = transport.send(
            self._session,
            "POST",
            self._url(url, model=req.model),
            headers=headers,
            json_body=body,
            timeout=timeout,
        )
        return transport.json_object(response)

    def _provider_id(self, document: Mapping[str, Any]) -> str:
        provider_id = first_at(document, self.config.id_path)
        if provider_id is None or provider_id == "":
            raise ProviderRejected(f"{self.config.name} create answered without {self.config.id_path!r}")
        return str(provider_id)

    def status(self, provider_id: str) -> ProviderStatus:
        response = transport.send(
            self._session,
            "GET",
            self._url(self.config.status_url, provider_id),
            headers=self._headers,
            timeout=self._timeout,
        )
        return self.to_status(transport.json_object(response), provider_id)

    def cancel(self, provider_id: str) -> CancelOutcome:
        if not self.config.cancel_url:
            return CancelOutcome.UNSUPPORTED
        try:
            response = transport.send(
                self._session,
                self.config.cancel_method,
                self._url(self.config.cancel_url, provider_id),
                headers=self._headers,
                timeout=self._timeout,
            )
        except ProviderRejected as exc:
            if exc.status_code in (404, 410):
                return CancelOutcome.NOT_FOUND
            if exc.status_code == 409:
                return CancelOutcome.ALREADY_FINISHED
            raise
        try:
            document = response.json()
        except ValueError:
            return CancelOutcome.REQUESTED  # accepted without saying more: poll to learn the end
        if not isinstance(document, dict) or first_at(document, self.config.status_path) is None:
            return CancelOutcome.REQUESTED
        status = self.to_status(document, provider_id)
        if status.state is TaskState.CANCELED:
            return CancelOutcome.CANCELED
        if status.state.is_terminal:
            return CancelOutcome.ALREADY_FINISHED
        return CancelOutcome.REQUESTED

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> WebhookDelivery:
        if self.config.webhook_secret is None:
            raise WebhookRejected(f"{self.config.name} has no webhook secret configured")
        verified = webhooks.verify(self.config.webhook_secret, headers, body, now)
        document = webhooks.json_body(body)
        provider_id = first_at(document, self.config.id_path)
        if provider_id is None or provider_id == "":
            raise MalformedDelivery(f"webhook body has no {self.config.id_path!r}")
        status = self.to_status(document, str(provider_id))
        return WebhookDelivery(delivery_id=verified.webhook_id, provider_id=status.provider_id, status=status)

    def to_status(self, document: Mapping[str, Any], provider_id: str) -> ProviderStatus:
        cfg = self.config
        raw = str(first_at(document, cfg.status_path) or "")
        state, mapping_error = map_status(cfg.status_map, raw)
        progress = clamp_progress(first_at(document, cfg.progress_path)) if cfg.progress_path else None
        if progress is not None and cfg.progress_is_fraction:
            progress = min(100.0, progress * 100.0)
        if progress is None and cfg.logs_path:
            progress = progress_from_logs(_as_text(first_at(document, cfg.logs_path)))
        if state is TaskState.SUCCEEDED:
            progress = 100.0
        error = first_at(document, cfg.error_path)
        error_text = str(error) if error else None
        if state is TaskState.FAILED:
            error_text = error_text or mapping_error or f"task {raw}"
        outputs: list[str] = []
        if cfg.outputs_path and state is TaskState.SUCCEEDED:
            outputs = [value for value in get_path(document, cfg.outputs_path) for value in _flat(value)]
        position = first_at(document, cfg.queue_position_path)
        return ProviderStatus(
            provider_id=provider_id,
            state=state,
            progress=progress,
            outputs=outputs,
            error=error_text,
            queue_position=position if isinstance(position, int) and position >= 0 else None,
            raw_status=raw,
        )


def _is_output(value: Any) -> TypeGuard[str]:
    """A file URL, or an inline output (text, or a file in the answer) as a data: URI."""
    return is_url(value) or is_data_uri(value)


def _flat(value: Any) -> list[str]:
    if isinstance(value, list):
        return [item for item in value if _is_output(item)]
    return [value] if _is_output(value) else []


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)
