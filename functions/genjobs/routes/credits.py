"""/credits: the caller's balance; /admin/credits: operators grant credits."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from genjobs.deps import deps
from genjobs.logic import credits
from genjobs.models.api import CreditsBalanceView, GrantCreditsRequest, GrantView
from genjobs.routes.dependencies import Admin, Caller
from genjobs.routes.params import IdempotencyKey, responses

router = Router()  # type: ignore[no-untyped-call]


@router.get(
    "/credits",
    summary="The caller's credit balance",
    responses=responses(200, CreditsBalanceView, "The balance."),
)
def get_credits(user: Caller) -> CreditsBalanceView:
    return credits.balance(deps(), user)


@router.post(
    "/admin/credits",
    summary="Grant credits to a user (operators only)",
    responses=responses(200, GrantView, "The grant and the new balance.", 400, 403, 413, 415),
)
def grant_credits(
    request: GrantCreditsRequest, _operator: Admin, idempotency_key: IdempotencyKey = None
) -> GrantView:
    return credits.grant(deps(), request, idempotency_key)
