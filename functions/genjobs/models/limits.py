"""Limits of fair dispatch: users' plans and providers' limits (configuration, checked at cold start)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

# A plan's name (PLANS), as operators assign it; "default" in a request means the configured default.
PLAN_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
DEFAULT_PLAN_WORD = "default"


class PlanLimits(BaseModel):
    """A user's plan (operators assign it; the default comes from configuration): how many of their
    tasks may be at providers at once across all their jobs, and their place when capacity is short
    (higher first; a lower plan's waiting tasks still move up with age, so they are never starved)."""

    # Configuration, not stored data: a misspelt limit must fail at cold start, not read as absent.
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    max_in_flight: int = Field(alias="maxInFlight", ge=1)
    priority: int = Field(default=0, ge=0, le=100)


class ProviderLimits(BaseModel):
    """Limits a provider account or one of its models holds across every job and user: tasks at the
    provider at once, and creates per minute. None: no limit of that kind.

    `reserve` of the `concurrency` places are kept for users with nothing in flight: another user's
    big jobs fill the others, and someone who arrives meanwhile starts at once instead of waiting
    for one of their tasks to end (a running task is never interrupted). It costs the big jobs those
    places while nobody else comes."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    concurrency: PositiveInt | None = None
    rate_per_minute: PositiveInt | None = Field(default=None, alias="ratePerMinute")
    reserve: NonNegativeInt | None = None

    @property
    def reserve_in_force(self) -> int:
        """The places kept for newcomers, at most all but one (an override may set the reserve over
        a catalog's concurrency, or a concurrency under a reserve already set; merged limits are
        not checked again)."""
        if not self.concurrency or not self.reserve:
            return 0
        return min(self.reserve, self.concurrency - 1)

    @model_validator(mode="after")
    def _reserve_within_concurrency(self) -> ProviderLimits:
        if self.reserve and self.concurrency is not None and self.reserve >= self.concurrency:
            raise ValueError(f"reserve ({self.reserve}) must be less than concurrency ({self.concurrency})")
        return self

    def overridden_by(self, override: ProviderLimits | None) -> ProviderLimits:
        """These limits with each kind the override gives replaced (an explicit null lifts it)."""
        if override is None:
            return self
        return self.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})
