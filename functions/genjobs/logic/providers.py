"""The provider adapter for a job: catalog entry + secrets -> a configured adapter, cached per process."""

from __future__ import annotations

from typing import Any

from genjobs.logic.ports import Collaborators
from genjobs.providers.base import Provider
from genjobs.providers.registry import build_provider

_cache: dict[str, Provider] = {}


def provider_secrets(deps: Collaborators) -> dict[str, Any]:
    arn = deps.settings.provider_secret_arn
    if not arn:
        return {}
    from aws_lambda_powertools.utilities.parameters import get_secret

    value = get_secret(arn, transform="json", max_age=300)
    return value if isinstance(value, dict) else {}


def provider_for(deps: Collaborators, name: str) -> Provider:
    if name in _cache:
        return _cache[name]
    entry = deps.catalog.providers[name]
    secrets = provider_secrets(deps).get(name, {})
    config: dict[str, Any] = dict(entry.options)
    base_url = deps.settings.simulator_base_url if entry.kind == "simulator" else entry.base_url
    if base_url:
        config["base_url"] = base_url
    for secret_name, arg in (
        ("apiToken", "api_token"),
        ("apiKey", "api_token"),
        ("webhookSecret", "webhook_secret"),
        ("webhookPublicKeys", "webhook_public_keys"),  # fal signs webhooks with ED25519
    ):
        if secret_name in secrets:
            config[arg] = secrets[secret_name]
    provider = build_provider(entry.kind, **config)
    _cache[name] = provider
    return provider


def forget_providers() -> None:
    _cache.clear()
