"""Credits: balances and operator grants. Movements of a job's credits are written with the job or task they belong to (dal.jobs, dal.tasks)."""

from __future__ import annotations

from genjobs.logic.errors import InvalidRequest
from genjobs.logic.ports import Collaborators
from genjobs.models.api import CreditsBalanceView, GrantCreditsRequest, GrantView
from genjobs.models.domain import CreditAccount


def balance(deps: Collaborators, user_id: str) -> CreditsBalanceView:
    return balance_of(deps.credits.account(user_id))


def balance_of(account: CreditAccount) -> CreditsBalanceView:
    return CreditsBalanceView(
        available=account.available,
        reserved=account.reserved,
        charged=account.charged,
        granted=account.granted,
    )


def grant(deps: Collaborators, request: GrantCreditsRequest, idempotency_key: str | None) -> GrantView:
    """Applies the grant once per grantId (or, without one, per Idempotency-Key)."""
    grant_id = request.grant_id or idempotency_key
    if grant_id is None:
        raise InvalidRequest.field(
            "grantId", "give a grantId or an Idempotency-Key so the grant is applied once"
        )
    applied = deps.credits.grant(request.user_id, request.amount, grant_id, request.reason)
    return GrantView(
        userId=request.user_id, grantId=grant_id, applied=applied, balance=balance(deps, request.user_id)
    )
