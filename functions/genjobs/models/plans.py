"""API models of plans and accounts: a user's plan, tasks in flight and credits; the configured
plans and the provider limits in force; an operator's plan assignment."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from genjobs.models.api import CreditsBalanceView
from genjobs.models.stored import VALID_TEXT


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class SetPlanRequest(_Request):
    plan: Annotated[str, StringConstraints(min_length=1, max_length=64), VALID_TEXT] | None = Field(
        description='A configured plan (`GET /plans`); null or `"default"`: back to the configured '
        "default plan, whatever it is then."
    )


class PlanEntryView(_Response):
    name: str
    max_in_flight: int = Field(
        alias="maxInFlight",
        description="Most of the user's tasks at providers at once, across all their jobs.",
    )
    priority: int = Field(description="Higher plans are dispatched first when capacity is short.")


class UserPlanView(PlanEntryView):
    assigned: bool = Field(description="True when an operator assigned it; false: the configured default.")


class AccountView(_Response):
    user_id: str = Field(alias="userId")
    plan: UserPlanView
    in_flight: int = Field(
        alias="inFlight", description="The user's tasks at providers now, across all their jobs."
    )
    credits: CreditsBalanceView


class LimitsView(_Response):
    concurrency: int | None = Field(description="Tasks at the provider at once; null: no limit.")
    rate_per_minute: int | None = Field(
        alias="ratePerMinute", description="Creates per minute; null: no limit."
    )
    reserve: int = Field(
        default=0,
        description=(
            "Of the concurrency, the places kept for users with nothing in flight (another user's "
            "big jobs never fill them); 0: none."
        ),
    )


class ModelLimitsView(_Response):
    model: str
    limits: LimitsView


class ProviderLimitsView(_Response):
    provider: str
    limits: LimitsView = Field(description="The provider account's, shared by every model of it.")
    models: list[ModelLimitsView] = Field(
        description="The models with limits of their own, within the provider's."
    )


class PlansView(_Response):
    default_plan: str = Field(alias="defaultPlan", description="The plan of a user no operator assigned one.")
    plans: list[PlanEntryView] = Field(description="Every configured plan, highest priority first.")
    providers: list[ProviderLimitsView] = Field(
        description="Every provider's limits in force: the catalog's with the operators' overrides."
    )
