"""Plans and limits as operators and users see them: an operator assigns a configured plan (or puts
the user back on the default) without touching their credits; a user reads their plan, tasks in
flight and balance; the provider limits in force are the catalog's with the operators' overrides;
and a configuration that names what does not exist stops the function at cold start."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from genjobs.catalog import get_catalog
from genjobs.logic import accounts, admission, credits
from genjobs.logic.errors import BadRequest
from genjobs.models.api import GrantCreditsRequest
from genjobs.models.limits import ProviderLimits
from genjobs.settings import Settings
from tests.unit.fakes import FakeDeps, fake_deps
from tests.unit.scenario import USER

pytestmark = pytest.mark.unit


# ------------------------------------------------------------------------------ assigning a plan
def test_an_assigned_plan_is_in_force_and_the_credits_stay_as_they_were(deps: FakeDeps) -> None:
    # GIVEN a user with 30 credits on the default plan
    credits.grant(deps, GrantCreditsRequest(userId=USER, amount=30, grantId="g1"), None)
    assert accounts.account_view(deps, USER).plan.name == "free"

    # WHEN an operator assigns them "pro"
    view = accounts.assign_plan(deps, USER, "pro")

    # THEN pro's limits are theirs, assigned, and their balance is unchanged
    assert (view.plan.name, view.plan.max_in_flight, view.plan.priority, view.plan.assigned) == (
        "pro",
        400,
        20,
        True,
    )
    assert (view.credits.available, view.credits.granted) == (30, 30)
    assert accounts.account_view(deps, USER) == view


def test_assigning_the_same_plan_twice_changes_nothing(deps: FakeDeps) -> None:
    first = accounts.assign_plan(deps, USER, "standard")
    assert accounts.assign_plan(deps, USER, "standard") == first


@pytest.mark.parametrize("back", [None, "default"])
def test_null_or_default_puts_the_user_back_on_the_configured_default(
    deps: FakeDeps, back: str | None
) -> None:
    # GIVEN a user an operator put on "pro"
    accounts.assign_plan(deps, USER, "pro")

    # WHEN the operator assigns null or "default"
    view = accounts.assign_plan(deps, USER, back)

    # THEN the user has the default plan again, not as an assignment
    assert (view.plan.name, view.plan.assigned) == ("free", False)
    assert deps.world.account(USER).plan is None


def test_a_plan_that_is_not_configured_is_a_400_naming_the_field_and_listing_the_plans(
    deps: FakeDeps,
) -> None:
    # GIVEN a user on "standard"
    accounts.assign_plan(deps, USER, "standard")

    # WHEN an operator assigns a plan that is not configured
    with pytest.raises(BadRequest) as refused:
        accounts.assign_plan(deps, USER, "gold")

    # THEN it is a 400 naming `plan` and the configured plans, and the user keeps "standard"
    assert refused.value.status == 400
    assert refused.value.errors[0]["field"] == "plan"
    assert "free, pro, standard" in refused.value.errors[0]["reason"]
    assert accounts.account_view(deps, USER).plan.name == "standard"


def test_an_explicitly_assigned_plan_outlives_a_change_of_the_default() -> None:
    # GIVEN a user assigned "free" while free is the default
    deps = fake_deps()
    accounts.assign_plan(deps, USER, "free")

    # WHEN the deployment's default becomes "standard"
    later = fake_deps(DEFAULT_PLAN="standard")
    later.__dict__.update(world=deps.world, credits=deps.credits)

    # THEN the user keeps the plan assigned to them, and another user gets the new default
    assert accounts.account_view(later, USER).plan.name == "free"
    assert accounts.account_view(later, "someone-else").plan.name == "standard"


def test_the_account_shows_the_users_tasks_in_flight(deps: FakeDeps) -> None:
    deps.world.accounts[USER] = deps.world.account(USER).model_copy(update={"in_flight": 7})
    assert accounts.account_view(deps, USER).in_flight == 7


# ------------------------------------------------------------------------------ plans and limits
def test_plans_are_listed_highest_priority_first_with_the_default_named() -> None:
    deps = fake_deps(DEFAULT_PLAN="standard")
    view = accounts.plans_view(deps)
    assert view.default_plan == "standard"
    assert [(p.name, p.max_in_flight, p.priority) for p in view.plans] == [
        ("pro", 400, 20),
        ("standard", 100, 10),
        ("free", 20, 0),
    ]


def test_an_override_replaces_only_the_kinds_of_limit_it_gives() -> None:
    # GIVEN replicate's catalog rate of 600/min, and an override of its concurrency only
    overrides = {"replicate": ProviderLimits(concurrency=50)}

    # WHEN the limits in force are merged
    limits = get_catalog().limits_for("replicate", "black-forest-labs/flux-dev", overrides)

    # THEN both hold: the override's concurrency and the catalog's rate
    assert limits is not None
    assert (limits.provider.concurrency, limits.provider.rate_per_minute) == (50, 600)
    assert limits.model == ProviderLimits()


def test_a_model_override_is_the_models_own_and_an_explicit_null_lifts_a_limit() -> None:
    overrides = {
        "fal": ProviderLimits.model_validate({"concurrency": None}),
        "fal/fal-ai/flux/dev": ProviderLimits(concurrency=4),
    }
    limits = get_catalog().limits_for("fal", "fal-ai/flux/dev", overrides)
    assert limits is not None
    assert (limits.provider.concurrency, limits.model.concurrency) == (None, 4)
    # The catalog's own value (fal: 10) holds where nothing overrides it
    untouched = get_catalog().limits_for("fal", "fal-ai/flux/schnell", {})
    assert untouched is not None
    assert untouched.provider.concurrency == 10


def test_a_reserve_is_in_force_per_limit_and_keeps_at_least_one_place_for_everyone() -> None:
    # GIVEN a reserve of 3 over fal's catalog concurrency (10), and a model's own limit of 2 with 1
    overrides = {"fal": {"reserve": 3}, "fal/fal-ai/flux/dev": {"concurrency": 2, "reserve": 1}}
    deps = fake_deps(PROVIDER_LIMITS=json.dumps(overrides))
    # THEN each limit keeps its reserve for users with nothing in flight, the rest for everyone
    limits = {limit.scope: limit for limit in admission.limits_of(deps, "fal", "fal-ai/flux/dev")}
    assert (limits["fal"].concurrency, limits["fal"].reserve) == (10, 3)
    assert (limits["fal"].places_for(newcomer=False), limits["fal"].places_for(newcomer=True)) == (7, 10)
    assert limits["fal/fal-ai/flux/dev"].places_for(newcomer=False) == 1
    # AND the plans view shows each reserve in force
    providers = {p.provider: p for p in accounts.plans_view(deps).providers}
    assert providers["fal"].limits.reserve == 3
    assert [(m.model, m.limits.reserve) for m in providers["fal"].models] == [("fal-ai/flux/dev", 1)]
    assert providers["replicate"].limits.reserve == 0
    # AND a concurrency cut below a reserve already set (merged, not checked again) leaves one place
    cut = ProviderLimits(concurrency=10, reserve=3).model_copy(update={"concurrency": 2})
    assert cut.reserve_in_force == 1


def test_the_catalog_keeps_one_of_fals_ten_places_for_newcomers_and_an_operator_can_take_it_back() -> None:
    # GIVEN no override: fal's catalog concurrency (10) with 1 place kept for users with nothing in flight
    (kept,) = admission.limits_of(fake_deps(), "fal", "fal-ai/flux/dev")
    assert (kept.scope, kept.concurrency, kept.reserve) == ("fal", 10, 1)
    assert (kept.places_for(newcomer=False), kept.places_for(newcomer=True)) == (9, 10)
    # WHEN an operator sets the reserve to 0, or lowers fal's concurrency to 1
    for override, places in (({"reserve": 0}, (10, 10)), ({"concurrency": 1}, (1, 1))):
        deps = fake_deps(PROVIDER_LIMITS=json.dumps({"fal": override}))
        (limit,) = admission.limits_of(deps, "fal", "fal-ai/flux/dev")
        # THEN everyone may use every place (a concurrency of 1 keeps none: at least one for everyone)
        assert (limit.places_for(newcomer=False), limit.places_for(newcomer=True)) == places
    # AND providers the catalog gives no concurrency keep nothing
    replicate = get_catalog().limits_for("replicate", "black-forest-labs/flux-dev", {})
    assert replicate is not None
    assert replicate.provider.reserve_in_force == 0


def test_the_plans_view_shows_every_providers_limits_in_force_and_the_models_own() -> None:
    # GIVEN an operator's override of one fal model
    deps = fake_deps(PROVIDER_LIMITS=json.dumps({"fal/fal-ai/flux/dev": {"concurrency": 4}}))

    # WHEN the plans are read
    providers = {p.provider: p for p in accounts.plans_view(deps).providers}

    # THEN fal keeps its catalog concurrency, lists that model with its own, and no other model
    assert providers["fal"].limits.concurrency == 10
    assert [(m.model, m.limits.concurrency) for m in providers["fal"].models] == [("fal-ai/flux/dev", 4)]
    assert providers["replicate"].limits.rate_per_minute == 600
    assert providers["simulator"].models == []


# ------------------------------------------------------------------------------ configuration
@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"PLANS": "{free: 20}"}, "PLANS\n  Value error, not valid JSON"),
        ({"PLANS": '{"free": {"maxInFlight": 0}}'}, "PLANS.free.maxInFlight"),
        ({"PLANS": '{"free": {"maxInFlight": 5, "priorty": 3}}'}, "PLANS.free.priorty"),
        ({"PLANS": '{"default": {"maxInFlight": 5}}', "DEFAULT_PLAN": "default"}, "PLANS: a plan may not"),
        ({"PLANS": '{"gold plan": {"maxInFlight": 5}}', "DEFAULT_PLAN": "gold plan"}, "PLANS: plan name"),
        ({"PLANS": '{"pro": {"maxInFlight": 5}}'}, "DEFAULT_PLAN 'free' is not one of PLANS"),
        ({"PROVIDER_LIMITS": "[1"}, "PROVIDER_LIMITS\n  Value error, not valid JSON"),
        ({"PROVIDER_LIMITS": '{"fal": {"concurency": 3}}'}, "PROVIDER_LIMITS.fal.concurency"),
        (
            {"PROVIDER_LIMITS": '{"fal": {"concurrency": 3, "reserve": 3}}'},
            "PROVIDER_LIMITS.fal\n  Value error, reserve (3) must be less than concurrency (3)",
        ),
        ({"PROVIDER_LIMITS": '{"fal": {"reserve": -1}}'}, "PROVIDER_LIMITS.fal.reserve"),
        (
            {"PROVIDER_LIMITS": '{"replicat": {"concurrency": 3}}'},
            "PROVIDER_LIMITS: the catalog has no provider or provider/model 'replicat'",
        ),
        (
            {"PROVIDER_LIMITS": '{"fal/fal-ai/flux/pro": {"concurrency": 3}}'},
            "provider/model 'fal/fal-ai/flux/pro'",
        ),
    ],
)
def test_a_configuration_that_cannot_hold_fails_at_cold_start_naming_the_setting(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({"TABLE_NAME": "jobs", **environment})
    assert message in str(refused.value)


def test_the_templates_defaults_are_a_valid_configuration() -> None:
    from tests.support.template import template

    parameters = template()["Parameters"]
    settings = Settings.model_validate(
        {
            "PLANS": parameters["Plans"]["Default"],
            "DEFAULT_PLAN": parameters["DefaultPlan"]["Default"],
            "PROVIDER_LIMITS": parameters["ProviderLimits"]["Default"],
        }
    )
    assert settings.plans[settings.default_plan].max_in_flight >= 1
