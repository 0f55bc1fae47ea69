"""Build a provider from its kind and plain config. Secrets come from the caller, never from here.

Each adapter's module (and requests, which they all use) is imported when a provider of its kind is
first built: importing the registry costs a handler nothing, and a process loads only the adapters
of the providers it talks to.
"""

from __future__ import annotations

from typing import Any

from genjobs.providers.base import Provider, ProviderNotConfigured

KINDS = ("simulator", "replicate", "fal", "generic")


def build_provider(kind: str, **config: Any) -> Provider:
    """`kind` is one of KINDS. Config keys per kind:

    - simulator: base_url, webhook_secret?, api_token?
    - replicate: api_token, webhook_secret?, base_url?, webhook_events?
    - fal: api_token (the fal key), webhook_public_keys?, base_url?
    - generic: every GenericHttpConfig field (base_url, status_map, templates, paths, ...)
    Any kind also takes `session` (a requests.Session) for tests or custom pooling.
    """
    session = config.pop("session", None)
    if kind == "simulator":
        from genjobs.providers.simulator import SimulatorProvider

        return SimulatorProvider(
            base_url=_required(config, "base_url", kind),
            webhook_secret=config.get("webhook_secret"),
            api_token=config.get("api_token"),
            session=session,
        )
    if kind == "replicate":
        from genjobs.providers import replicate

        return replicate.ReplicateProvider(
            api_token=_required(config, "api_token", kind),
            webhook_secret=config.get("webhook_secret"),
            base_url=config.get("base_url") or replicate.DEFAULT_BASE_URL,
            webhook_events=tuple(config.get("webhook_events") or replicate.DEFAULT_WEBHOOK_EVENTS),
            session=session,
        )
    if kind == "fal":
        from genjobs.providers import fal

        return fal.FalProvider(
            api_key=_required(config, "api_token", kind),
            webhook_public_keys=config.get("webhook_public_keys"),
            base_url=config.get("base_url") or fal.DEFAULT_BASE_URL,
            session=session,
        )
    if kind == "generic":
        from genjobs.providers.generic_http import GenericHttpConfig, GenericHttpProvider

        return GenericHttpProvider(GenericHttpConfig.model_validate(config), session=session)
    raise ValueError(f"unknown provider kind {kind!r}; expected one of {', '.join(KINDS)}")


def _required(config: dict[str, Any], key: str, kind: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderNotConfigured(f"provider {kind!r} needs {key!r}")
    return value
