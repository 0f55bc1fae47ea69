"""Plans over HTTP against the local stack: an operator assigns a user's plan and puts them back on
the default, a plan that is not configured is refused naming it, only operators may do either, and
users read their own plan, tasks in flight and credits, and the plans and provider limits in force."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_job

pytestmark = pytest.mark.e2e


def plan_of(operator: Client, user: str) -> dict[str, object]:
    response = operator.get(f"/admin/users/{user}")
    assert response.status_code == 200, response.text
    return dict(response.json()["plan"])


def test_an_operator_assigns_a_plan_and_the_user_sees_it_with_their_credits_untouched(
    operator: Client, make_user: Callable[..., Client]
) -> None:
    # GIVEN a user with 50 credits, 1 of them spent, on the default plan
    user = make_user(50)
    job = user.create(sim_job(1))
    user.wait(job["jobId"])
    before = user.get("/me").json()
    assert before["plan"] == {"name": "free", "maxInFlight": 20, "priority": 0, "assigned": False}

    # WHEN an operator assigns them "pro", twice (a retry)
    first = operator.request("PUT", f"/admin/users/{user.user}/plan", json={"plan": "pro"})
    again = operator.request("PUT", f"/admin/users/{user.user}/plan", json={"plan": "pro"})

    # THEN both answer the account on pro, and the user sees the same: pro's limits, their credits as before
    assert first.status_code == 200, first.text
    assert first.json() == again.json()
    me = user.get("/me").json()
    assert me == first.json()
    assert me["plan"] == {"name": "pro", "maxInFlight": 400, "priority": 20, "assigned": True}
    assert me["credits"] == before["credits"] == {"available": 49, "reserved": 0, "charged": 1, "granted": 50}
    assert me["inFlight"] == 0
    assert me["userId"] == user.user


@pytest.mark.parametrize("back", [None, "default"])
def test_null_or_default_puts_a_user_back_on_the_default_plan(
    operator: Client, make_user: Callable[..., Client], back: str | None
) -> None:
    # GIVEN a user an operator put on "standard"
    user = make_user(5)
    assert operator.request("PUT", f"/admin/users/{user.user}/plan", json={"plan": "standard"}).ok
    assert plan_of(operator, user.user)["name"] == "standard"

    # WHEN the operator assigns null or "default"
    response = operator.request("PUT", f"/admin/users/{user.user}/plan", json={"plan": back})

    # THEN the user has the configured default again, not as an assignment
    assert response.status_code == 200, response.text
    assert response.json()["plan"] == {"name": "free", "maxInFlight": 20, "priority": 0, "assigned": False}
    assert user.get("/me").json()["plan"]["name"] == "free"


def test_a_plan_that_is_not_configured_is_a_400_naming_it_and_changes_nothing(
    operator: Client, make_user: Callable[..., Client]
) -> None:
    # GIVEN a user on "standard"
    user = make_user(5)
    operator.request("PUT", f"/admin/users/{user.user}/plan", json={"plan": "standard"})

    # WHEN an operator assigns a plan the deployment does not have
    response = operator.request("PUT", f"/admin/users/{user.user}/plan", json={"plan": "gold"})

    # THEN it is a 400 problem naming `plan` and listing the configured plans; the user keeps "standard"
    assert response.status_code == 400, response.text
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["plan"]
    assert "free, pro, standard" in problem["detail"]
    assert plan_of(operator, user.user)["name"] == "standard"


def test_assigning_a_plan_to_a_user_never_seen_creates_an_account_that_credits_then_join(
    stack: LocalStack, operator: Client
) -> None:
    # GIVEN a user no operator has granted anything
    user = f"user-{uuid.uuid4().hex[:12]}"

    # WHEN an operator assigns them "pro", then grants them 10 credits
    assert operator.request("PUT", f"/admin/users/{user}/plan", json={"plan": "pro"}).status_code == 200
    grant = operator.post("/admin/credits", json={"userId": user, "amount": 10, "grantId": f"g-{user}"})

    # THEN they have both: the plan and the credits
    assert grant.status_code == 200, grant.text
    me = Client(stack, user).get("/me").json()
    assert (me["plan"]["name"], me["credits"]["available"], me["credits"]["granted"]) == ("pro", 10, 10)


def test_only_operators_see_or_assign_plans(make_user: Callable[..., Client]) -> None:
    # GIVEN two users
    user, other = make_user(5), make_user(5)

    # WHEN a user tries to raise their own plan, or read another user's account
    raised = user.request("PUT", f"/admin/users/{user.user}/plan", json={"plan": "pro"})
    peeked = user.get(f"/admin/users/{other.user}")

    # THEN both are 403 problems and the plan is unchanged
    assert (raised.status_code, peeked.status_code) == (403, 403)
    assert raised.headers["Content-Type"] == "application/problem+json"
    assert user.get("/me").json()["plan"]["name"] == "free"


def test_a_plan_missing_from_the_body_is_a_422_naming_it(operator: Client) -> None:
    response = operator.request("PUT", "/admin/users/someone/plan", json={})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["plan"]


def test_any_user_reads_the_plans_and_the_provider_limits_in_force(app: Client) -> None:
    # WHEN a user reads the plans
    response = app.get("/plans")

    # THEN they see the default, every plan highest priority first, and each provider's limits
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["defaultPlan"] == "free"
    assert [p["name"] for p in view["plans"]] == ["pro", "standard", "free"]
    providers = {p["provider"]: p for p in view["providers"]}
    assert providers["replicate"]["limits"] == {"concurrency": None, "ratePerMinute": 600, "reserve": 0}
    # fal's catalog keeps 1 of its 10 places for users with nothing in flight
    assert providers["fal"]["limits"] == {"concurrency": 10, "ratePerMinute": None, "reserve": 1}
    assert "simulator" in providers
