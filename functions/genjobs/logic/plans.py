"""Users' plans: what an operator assigned (kept on the user's account item), else the configured
default. A plan bounds a user's tasks at providers across all their jobs and orders them when
capacity is short (logic.dispatch)."""

from __future__ import annotations

from dataclasses import dataclass

from genjobs.logic.ports import Collaborators
from genjobs.models.domain import CreditAccount
from genjobs.models.limits import PlanLimits


@dataclass(frozen=True)
class UserPlan:
    name: str
    limits: PlanLimits
    # False when the user has the default plan (no operator assigned one).
    assigned: bool


def plan_of_account(deps: Collaborators, account: CreditAccount) -> UserPlan:
    """The account's plan. A name no longer configured (a plan removed from PLANS) falls back to
    the default, so a user is never left without limits."""
    plans = deps.settings.plans
    if account.plan is not None and account.plan in plans:
        return UserPlan(account.plan, plans[account.plan], assigned=True)
    default = deps.settings.default_plan
    return UserPlan(default, plans[default], assigned=False)


def plan_of(deps: Collaborators, user_id: str) -> UserPlan:
    return plan_of_account(deps, deps.credits.account(user_id))
