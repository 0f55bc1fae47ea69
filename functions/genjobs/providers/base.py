"""The provider interface: models every adapter speaks, the errors it raises, and the Protocol.

Adapters never retry. Retrying is done upstream (SQS visibility timeouts, Step Functions Retry),
so every failure is *classified* instead: throttled (wait and retry), unavailable (transient,
retry), rejected (permanent, do not retry), or a rejected webhook (answer 401 for a bad signature,
400 for a malformed body; never trust it).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class TaskState(StrEnum):
    """Our own vocabulary for a provider task; every raw provider status maps onto one of these."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELED})


class ProviderStatus(BaseModel):
    """One observation of a provider task, from a poll or a webhook."""

    model_config = ConfigDict(frozen=True)

    provider_id: str
    state: TaskState
    progress: float | None = Field(default=None, ge=0, le=100)
    outputs: list[str] = Field(
        default_factory=list,
        description="Outputs in the model's order: http(s) URLs as the provider gave them, or data: URIs "
        "for inline and text outputs",
    )
    error: str | None = None
    queue_position: int | None = Field(default=None, ge=0)
    raw_status: str


class SubmitRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str = Field(min_length=1, description="Provider model id, e.g. 'owner/name:version'")
    input: dict[str, Any]
    idempotency_key: str = Field(min_length=1, description="Stable per task: a retried submit reuses it")
    webhook_url: str | None = None
    cancel_after_seconds: int | None = Field(
        default=None, gt=0, description="Provider-side deadline where supported (Replicate Cancel-After)"
    )


class Submission(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider_id: str
    status: ProviderStatus | None = None


class CancelOutcome(StrEnum):
    """How a cancel ended at the provider, reported per task."""

    CANCELED = "CANCELED"  # stopped; nothing more will be charged
    REQUESTED = "REQUESTED"  # signalled to a running task; it may still finish (poll to know)
    ALREADY_FINISHED = "ALREADY_FINISHED"  # too late: keep its outputs
    NOT_FOUND = "NOT_FOUND"
    UNSUPPORTED = "UNSUPPORTED"  # the provider has no cancel: the task runs to its end


class WebhookDelivery(BaseModel):
    """A verified webhook. `delivery_id` is the dedupe key; storing seen ids is the caller's job."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str
    provider_id: str
    status: ProviderStatus

    def matches(self, stored_provider_id: str) -> bool:
        """Whether this delivery is about the task whose submit returned `stored_provider_id`.

        fal's webhook names only the request id while fal provider ids also carry the app id
        ("app::request"), so an exact comparison is not enough there.
        """
        return stored_provider_id == self.provider_id or stored_provider_id.endswith(
            PROVIDER_ID_SEPARATOR + self.provider_id
        )


PROVIDER_ID_SEPARATOR = "::"


class ProviderError(Exception):
    """Base of every classified provider failure."""


class ProviderThrottled(ProviderError):
    """429: retry the same call after `retry_after_seconds`; the work was not accepted."""

    def __init__(self, retry_after_seconds: float, message: str = "throttled by provider") -> None:
        super().__init__(f"{message} (retry after {retry_after_seconds:g}s)")
        self.retry_after_seconds = retry_after_seconds


class ProviderUnavailable(ProviderError):
    """5xx, timeouts, connection errors, unreadable answers: transient, retry later.

    `request_sent` is False when the request certainly never reached the provider (connect
    failure) and True when it may have been processed (read timeout, dropped response, 5xx):
    a retried submit must then reuse the idempotency key so no second paid prediction starts.
    """

    def __init__(self, message: str, *, status_code: int | None = None, request_sent: bool = True) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_sent = request_sent


class SyncDeadlinePassed(ProviderUnavailable):
    """A synchronous call (Provider.run) that got no terminal answer within its deadline.

    Transient: the prediction may still be running. Where the provider takes an idempotency key,
    running the same request again gets the same prediction (and waits for it again); `status` is
    the last state seen (None when the answer had none), so a caller may poll it instead.
    """

    def __init__(self, provider_id: str, status: ProviderStatus | None, timeout_seconds: float) -> None:
        state = status.raw_status if status is not None else "unknown"
        super().__init__(
            f"{provider_id}: no terminal answer within {timeout_seconds:g}s (last status {state!r})"
        )
        self.provider_id = provider_id
        self.status = status


class ProviderRejected(ProviderError):
    """4xx other than 429: permanent for this request (bad input, auth, unknown model). Don't retry."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class WebhookRejected(ProviderError):
    """A webhook that must not be trusted: missing/forged signature, stale timestamp, malformed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedDelivery(WebhookRejected):
    """A delivery whose signature is valid but whose body is not what the provider sends."""


class ProviderNotConfigured(ValueError):
    """A provider whose credentials are missing from the provider secret: it can neither be called
    nor verify a webhook."""


@runtime_checkable
class Provider(Protocol):
    """What the workflow needs from an AI provider; one adapter per provider API."""

    name: str
    supports_webhooks: bool

    def submit(self, req: SubmitRequest) -> Submission: ...

    def run(self, request: SubmitRequest, timeout_seconds: float) -> ProviderStatus:
        """Creates the task and waits for its end in the same call (an LLM's text, TTS audio):
        answers a terminal status (SUCCEEDED with its outputs, FAILED, CANCELED).

        Raises what submit raises, and SyncDeadlinePassed (a ProviderUnavailable) when no terminal
        answer came within `timeout_seconds` (or the provider's own cap on a wait). The call lasts
        at most the deadline plus transport.SYNC_ANSWER_MARGIN_SECONDS (and the connect timeout).
        """
        ...

    def status(self, provider_id: str) -> ProviderStatus: ...

    def cancel(self, provider_id: str) -> CancelOutcome: ...

    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: float | None = None
    ) -> WebhookDelivery: ...


def finished(status: ProviderStatus | None, provider_id: str, timeout_seconds: float) -> ProviderStatus:
    """The answer of a synchronous call when it is terminal; otherwise its deadline passed."""
    if status is None or not status.state.is_terminal:
        raise SyncDeadlinePassed(provider_id, status, timeout_seconds)
    return status


def map_status(table: Mapping[str, TaskState], raw: str) -> tuple[TaskState, str | None]:
    """Map a raw provider status through an explicit table.

    Anything not in the table ends the task as FAILED with the raw status in the error: mapping an
    unknown status to a waiting state is how clients ended up polling forever.
    """
    state = table.get(raw)
    if state is None:
        return TaskState.FAILED, f"unknown provider status {raw!r}"
    return state, None
