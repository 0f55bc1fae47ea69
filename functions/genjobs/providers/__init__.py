"""AI provider adapters behind one small interface (see base.Provider) and a factory (registry)."""

from genjobs.providers.base import (
    CancelOutcome,
    Provider,
    ProviderError,
    ProviderRejected,
    ProviderStatus,
    ProviderThrottled,
    ProviderUnavailable,
    Submission,
    SubmitRequest,
    SyncDeadlinePassed,
    TaskState,
    WebhookDelivery,
    WebhookRejected,
)
from genjobs.providers.registry import KINDS, build_provider

__all__ = [
    "KINDS",
    "CancelOutcome",
    "Provider",
    "ProviderError",
    "ProviderRejected",
    "ProviderStatus",
    "ProviderThrottled",
    "ProviderUnavailable",
    "Submission",
    "SubmitRequest",
    "SyncDeadlinePassed",
    "TaskState",
    "WebhookDelivery",
    "WebhookRejected",
    "build_provider",
]
