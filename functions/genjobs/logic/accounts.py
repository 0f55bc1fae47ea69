"""A user's account as the user and operators see it (plan, tasks in flight, credits), operators'
plan assignments, and the plans and provider limits in force."""

from __future__ import annotations

from typing import TYPE_CHECKING

from genjobs.logic.credits import balance_of
from genjobs.logic.errors import BadRequest
from genjobs.logic.plans import plan_of_account
from genjobs.logic.ports import Collaborators
from genjobs.models.limits import DEFAULT_PLAN_WORD
from genjobs.models.plans import (
    AccountView,
    LimitsView,
    ModelLimitsView,
    PlanEntryView,
    PlansView,
    ProviderLimitsView,
    UserPlanView,
)

if TYPE_CHECKING:
    from genjobs.models.limits import ProviderLimits


def account_view(deps: Collaborators, user_id: str) -> AccountView:
    """Any user id has an account: one never granted anything has the default plan and no credits."""
    account = deps.credits.account(user_id)
    plan = plan_of_account(deps, account)
    return AccountView(
        userId=user_id,
        plan=UserPlanView(
            name=plan.name,
            maxInFlight=plan.limits.max_in_flight,
            priority=plan.limits.priority,
            assigned=plan.assigned,
        ),
        inFlight=account.in_flight,
        credits=balance_of(account),
    )


def assign_plan(deps: Collaborators, user_id: str, plan: str | None) -> AccountView:
    """Assigns a configured plan; None or "default" goes back to the default. Assigning what is
    already assigned changes nothing."""
    name = None if plan in (None, DEFAULT_PLAN_WORD) else plan
    configured = deps.settings.plans
    if name is not None and name not in configured:
        raise BadRequest.field(
            "plan",
            f"{name!r} is not a configured plan; the plans are {', '.join(sorted(configured))}, "
            f'or null / "default" for the default ({deps.settings.default_plan})',
        )
    deps.credits.set_plan(user_id, name)
    return account_view(deps, user_id)


def plans_view(deps: Collaborators) -> PlansView:
    settings = deps.settings
    plans = sorted(settings.plans.items(), key=lambda plan: (-plan[1].priority, plan[0]))
    providers = []
    for provider, entry in deps.catalog.providers.items():
        in_force = [
            (model, limits)
            for model in entry.models
            if (limits := deps.catalog.limits_for(provider, model, settings.provider_limits))
        ]
        if not in_force:
            continue
        providers.append(
            ProviderLimitsView(
                provider=provider,
                limits=_limits_view(in_force[0][1].provider),  # the same for every model of it
                models=[
                    ModelLimitsView(model=model, limits=_limits_view(limits.model))
                    for model, limits in in_force
                    if limits.model.concurrency or limits.model.rate_per_minute
                ],
            )
        )
    return PlansView(
        defaultPlan=settings.default_plan,
        plans=[
            PlanEntryView(name=name, maxInFlight=limits.max_in_flight, priority=limits.priority)
            for name, limits in plans
        ],
        providers=providers,
    )


def _limits_view(limits: ProviderLimits) -> LimitsView:
    return LimitsView(
        concurrency=limits.concurrency,
        ratePerMinute=limits.rate_per_minute,
        reserve=limits.reserve_in_force,
    )
