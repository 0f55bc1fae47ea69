"""Providers and models that jobs may use, with their price per task and how we wait for them.

Loaded once per cold start from catalog.json next to this module (shipped with the code, so a
price change is a deployment, reviewed like code).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

# Defined with the domain models: the settings read it too, and must not load the catalog.
from genjobs.models.limits import ProviderLimits

__all__ = [
    "Catalog",
    "ModelEntry",
    "ProviderEntry",
    "ProviderLimits",
    "ResolvedModel",
    "WaitBy",
    "get_catalog",
]


class WaitBy(StrEnum):
    POLL = "poll"
    WEBHOOK = "webhook"


class LimitsInForce(BaseModel):
    """What holds for one model's tasks: its provider account's limits, shared by all its models,
    and the model's own within them."""

    model_config = ConfigDict(frozen=True)

    provider: ProviderLimits
    model: ProviderLimits


class ModelEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    price: PositiveInt = 1
    expected_seconds: PositiveInt = Field(default=30, alias="expectedSeconds")
    wait_by: WaitBy | None = Field(default=None, alias="waitBy")
    # A success normally delivers at least one output, and one that delivers none fails (refunded).
    # A model whose success legitimately carries no file says so here.
    output_optional: bool = Field(default=False, alias="outputOptional")
    # The model answers synchronously (Provider.run: the answer carries its outputs), so a step of
    # kind sync may use it. It may still be submitted and waited for like any other.
    sync: bool = False
    # This model's own limits, within its provider's.
    limits: ProviderLimits = Field(default_factory=ProviderLimits)


class ProviderEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    base_url: str = Field(default="", alias="baseUrl")
    wait_by: WaitBy = Field(default=WaitBy.POLL, alias="waitBy")
    options: dict[str, Any] = Field(default_factory=dict)
    # The account's limits, shared by all its models (e.g. Replicate's 600 creates per minute).
    limits: ProviderLimits = Field(default_factory=ProviderLimits)
    models: dict[str, ModelEntry]


class ResolvedModel(BaseModel):
    """Everything the workflow needs to know about one provider/model pair."""

    model_config = ConfigDict(frozen=True)

    provider: str
    kind: str
    model: str
    price: int
    expected_seconds: int
    wait_by: WaitBy
    output_optional: bool = False
    sync: bool = False
    provider_limits: ProviderLimits = Field(default_factory=ProviderLimits)
    model_limits: ProviderLimits = Field(default_factory=ProviderLimits)


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    providers: dict[str, ProviderEntry]

    def resolve(self, provider: str, model: str) -> ResolvedModel | None:
        entry = self.providers.get(provider)
        if entry is None or model not in entry.models:
            return None
        m = entry.models[model]
        return ResolvedModel(
            provider=provider,
            kind=entry.kind,
            model=model,
            price=m.price,
            expected_seconds=m.expected_seconds,
            wait_by=m.wait_by or entry.wait_by,
            output_optional=m.output_optional,
            sync=m.sync,
            provider_limits=entry.limits,
            model_limits=m.limits,
        )

    def limits_for(
        self, provider: str, model: str, overrides: Mapping[str, ProviderLimits]
    ) -> LimitsInForce | None:
        """The limits in force for a provider's model: the catalog's, each overridden by the
        operators' (PROVIDER_LIMITS, keyed "provider" or "provider/model"); None when the catalog
        has no such model."""
        entry = self.providers.get(provider)
        if entry is None or model not in entry.models:
            return None
        return LimitsInForce(
            provider=entry.limits.overridden_by(overrides.get(provider)),
            model=entry.models[model].limits.overridden_by(overrides.get(f"{provider}/{model}")),
        )

    def names_scope(self, key: str) -> bool:
        """Whether a PROVIDER_LIMITS key names a provider ("fal") or one of its models
        ("fal/fal-ai/flux/dev") of this catalog."""
        provider, _, model = key.partition("/")
        entry = self.providers.get(provider)
        return entry is not None and (not model or model in entry.models)


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    return Catalog.model_validate_json((Path(__file__).parent / "catalog.json").read_text())
