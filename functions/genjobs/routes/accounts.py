"""/me and /plans: the caller's plan, tasks in flight and credits, and the plans and provider limits
in force; /admin/users: operators see a user's account and assign their plan."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from genjobs.deps import deps
from genjobs.logic import accounts
from genjobs.models.plans import AccountView, PlansView, SetPlanRequest
from genjobs.routes.dependencies import Admin, Caller
from genjobs.routes.params import UserId, responses

router = Router()  # type: ignore[no-untyped-call]


@router.get(
    "/me",
    summary="The caller's plan, tasks in flight and credit balance",
    responses=responses(200, AccountView, "The caller's account."),
)
def get_me(user: Caller) -> AccountView:
    return accounts.account_view(deps(), user)


@router.get(
    "/plans",
    summary="The configured plans and the provider limits in force",
    responses=responses(200, PlansView, "Plans, highest priority first, and every provider's limits."),
)
def list_plans(_user: Caller) -> PlansView:
    return accounts.plans_view(deps())


@router.get(
    "/admin/users/<userId>",
    summary="A user's plan, tasks in flight and credit balance (operators only)",
    responses=responses(
        200, AccountView, "The user's account (a user never seen has the default plan).", 403
    ),
)
def get_user(userId: UserId, _operator: Admin) -> AccountView:  # noqa: N803 - the path parameter's public name
    return accounts.account_view(deps(), userId)


@router.put(
    "/admin/users/<userId>/plan",
    summary="Assign a user's plan, or put them back on the default (operators only; idempotent)",
    responses=responses(
        200,
        AccountView,
        "The user's account with the plan now in force.",
        (
            400,
            "Malformed JSON, or a plan that is not configured: `errors` names `plan`, the detail lists the plans.",
        ),
        403,
        413,
        415,
    ),
)
def set_plan(request: SetPlanRequest, userId: UserId, _operator: Admin) -> AccountView:  # noqa: N803
    return accounts.assign_plan(deps(), userId, request.plan)
