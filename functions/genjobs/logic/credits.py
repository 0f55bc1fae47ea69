"""Credits: balances and operator grants. Movements of a job's credits are written with the job or task they belong to (dal.jobs, dal.tasks)."""

from __future__ import annotations

from genjobs.deps import Deps
from genjobs.models.api import CreditsBalanceView, GrantCreditsRequest, GrantView


def balance(deps: Deps, user_id: str) -> CreditsBalanceView:
    account = deps.credits.account(user_id)
    return CreditsBalanceView(
        available=account.available,
        reserved=account.reserved,
        charged=account.charged,
        granted=account.granted,
    )


def grant(deps: Deps, request: GrantCreditsRequest, grant_id: str) -> GrantView:
    applied = deps.credits.grant(request.user_id, request.amount, grant_id, request.reason)
    return GrantView(
        userId=request.user_id, grantId=grant_id, applied=applied, balance=balance(deps, request.user_id)
    )
