"""The fairness scenario's stack settings (the bench itself is not run here)."""

from __future__ import annotations

import json

import pytest
from bench.scenarios import fairness

from genjobs.catalog import WaitBy, get_catalog

pytestmark = [pytest.mark.unit]


@pytest.mark.parametrize("sizes", [fairness.QUICK, fairness.FULL])
def test_the_two_stacks_differ_only_by_dispatch_mode(sizes: fairness.Sizes) -> None:
    fifo, fair = fairness.parameters("fifo", sizes), fairness.parameters("fair", sizes)
    assert (fifo.pop("DispatchMode"), fair.pop("DispatchMode")) == ("fifo", "fair")
    assert fifo == fair


@pytest.mark.parametrize("sizes", [fairness.QUICK, fairness.FULL])
def test_the_reserve_stack_is_fair_mode_with_places_of_the_burst_model_kept_and_nothing_else(
    sizes: fairness.Sizes,
) -> None:
    fair, reserve = fairness.parameters("fair", sizes), fairness.parameters(fairness.RESERVE_MODE, sizes)
    assert reserve["DispatchMode"] == "fair"
    limits, kept = json.loads(fair.pop("ProviderLimits")), json.loads(reserve.pop("ProviderLimits"))
    burst = f"simulator/{fairness.BURST_MODEL}"
    assert kept.pop(burst) == {"concurrency": sizes.capacity, "reserve": sizes.reserve}
    assert limits.pop(burst) == {"concurrency": sizes.capacity}
    assert (kept, reserve) == (limits, fair)
    assert 0 < sizes.reserve < sizes.capacity


@pytest.mark.parametrize("sizes", [fairness.QUICK, fairness.FULL])
def test_the_provider_refuses_beyond_the_limits_fair_mode_is_given_except_where_its_peak_is_measured(
    sizes: fairness.Sizes,
) -> None:
    limits = json.loads(fairness.parameters("fair", sizes)["ProviderLimits"])
    refused_beyond = fairness.capacity(sizes)
    # THEN the burst and priority models hold as many at the simulator as ProviderLimits says ...
    for model, capacity in refused_beyond.items():
        assert limits[f"simulator/{model}"] == {"concurrency": capacity}
    # ... and the limited model is not capped there, so its peak shows what was sent at once
    assert fairness.LIMITED_MODEL not in refused_beyond
    assert limits[f"simulator/{fairness.LIMITED_MODEL}"] == {"concurrency": sizes.limit}


def test_every_model_is_a_webhook_model_of_the_catalog_so_a_task_takes_its_latency_not_a_poll_interval() -> (
    None
):
    for model in (fairness.BURST_MODEL, fairness.LIMITED_MODEL, fairness.PRIORITY_MODEL):
        resolved = get_catalog().resolve("simulator", model)
        assert resolved is not None
        assert resolved.wait_by is WaitBy.WEBHOOK
    assert len({fairness.BURST_MODEL, fairness.LIMITED_MODEL, fairness.PRIORITY_MODEL}) == 3


def test_the_plans_exist_and_the_priority_part_compares_a_lower_plan_with_a_higher_one() -> None:
    plans = fairness.PLANS
    assert plans[fairness.LOW_PLAN]["priority"] < plans[fairness.HIGH_PLAN]["priority"]
    # Neither plan's own limit binds: the provider's capacity is what is short.
    for sizes in (fairness.QUICK, fairness.FULL):
        assert plans[fairness.LOW_PLAN]["maxInFlight"] >= sizes.priority_tasks
        assert plans[fairness.BURST_PLAN]["maxInFlight"] >= sizes.a_jobs * sizes.a_concurrency
