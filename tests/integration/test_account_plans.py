"""A user's plan on their account item in DynamoDB (moto): assigned beside the credits, never
changing them, and removed to go back to the default."""

from __future__ import annotations

from genjobs.deps import Deps


def test_a_plan_assigned_before_any_grant_creates_an_account_the_grant_then_credits(deps: Deps) -> None:
    # GIVEN a user with no account item
    # WHEN an operator assigns them a plan, then grants 10 credits
    deps.credits.set_plan("plan-new", "pro")
    assert deps.credits.grant("plan-new", 10, "g1", None)

    # THEN the account holds both, and balances
    account = deps.credits.account("plan-new")
    assert (account.plan, account.granted, account.available, account.reserved, account.charged) == (
        "pro",
        10,
        10,
        0,
        0,
    )


def test_assigning_and_removing_a_plan_leaves_the_credits_as_they_were(deps: Deps) -> None:
    # GIVEN a user with 7 credits
    assert deps.credits.grant("plan-kept", 7, "g1", None)
    before = deps.credits.account("plan-kept")

    # WHEN a plan is assigned, then removed (back to the default)
    deps.credits.set_plan("plan-kept", "standard")
    assigned = deps.credits.account("plan-kept")
    deps.credits.set_plan("plan-kept", None)
    removed = deps.credits.account("plan-kept")

    # THEN only the plan changed each time
    assert assigned == before.model_copy(update={"plan": "standard"})
    assert removed == before
    assert removed.plan is None
