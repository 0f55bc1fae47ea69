"""Exact planning: N means N (the seed apps asked for 5 images and got 8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genjobs.logic import planning
from genjobs.models.domain import Plan


def styles_roles(count: int | None = None) -> Plan:
    return Plan(matrix={"style": ["A", "B", "C"], "role": ["GROOM", "BRIDE"]}, count=count)


def test_count_takes_exactly_count_tasks_round_robin_over_the_combinations() -> None:
    # GIVEN 3 styles x 2 roles and a count of 5
    plan = styles_roles(count=5)
    # WHEN the plan is expanded
    tasks = list(planning.expand(plan, {}))
    # THEN exactly 5 tasks, in combination order
    assert [(t["style"], t["role"]) for t in tasks] == [
        ("A", "GROOM"),
        ("A", "BRIDE"),
        ("B", "GROOM"),
        ("B", "BRIDE"),
        ("C", "GROOM"),
    ]
    assert planning.validate(plan, 10_000) == 5


def test_without_count_every_combination_runs_once() -> None:
    plan = Plan(matrix={"style": ["A", "B", "C", "D"], "role": ["GROOM", "BRIDE"]})
    tasks = list(planning.expand(plan, {}))
    assert planning.validate(plan, 10_000) == 8
    assert len({(t["style"], t["role"]) for t in tasks}) == 8


def test_count_larger_than_the_product_wraps_around() -> None:
    tasks = list(planning.expand(styles_roles(count=8), {}))
    assert [(t["style"], t["role"]) for t in tasks][6:] == [("A", "GROOM"), ("A", "BRIDE")]


def test_object_values_are_merged_into_the_common_input() -> None:
    plan = Plan(matrix={"role": [{"role": "GROOM", "photo": "g.jpg"}, {"role": "BRIDE", "photo": "b.jpg"}]})
    tasks = list(planning.expand(plan, {"prompt": "wedding", "photo": "default.jpg"}))
    assert tasks == [
        {"prompt": "wedding", "role": "GROOM", "photo": "g.jpg"},
        {"prompt": "wedding", "role": "BRIDE", "photo": "b.jpg"},
    ]


def test_explicit_tasks_are_merged_over_the_common_input() -> None:
    plan = Plan(tasks=[{"seed": 1}, {"seed": 2, "prompt": "other"}])
    assert list(planning.expand(plan, {"prompt": "p"})) == [
        {"prompt": "p", "seed": 1},
        {"prompt": "other", "seed": 2},
    ]


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        (Plan(), "tasks"),
        (Plan(tasks=[{}], matrix={"a": [1]}), "tasks"),
        (Plan(tasks=[]), "tasks"),
        (Plan(tasks=[{}], count=2), "count"),
        (Plan(matrix={}), "matrix"),
        (Plan(matrix={"style": []}), "matrix.style"),
        (Plan(matrix={"a": list(range(200)), "b": list(range(200))}), "matrix"),
        (Plan(matrix={"a": [1]}, count=10_001), "count"),
    ],
)
def test_invalid_plans_name_the_field(plan: Plan, field: str) -> None:
    with pytest.raises(planning.PlanError) as raised:
        planning.validate(plan, 10_000)
    assert raised.value.field == field


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
    count=st.one_of(st.none(), st.integers(min_value=1, max_value=300)),
)
def test_planned_task_count_is_always_exact(sizes: list[int], count: int | None) -> None:
    matrix = {f"d{i}": list(range(n)) for i, n in enumerate(sizes)}
    plan = Plan(matrix=matrix, count=count)
    tasks = list(planning.expand(plan, {}))
    product = planning.combinations_count(matrix)
    assert len(tasks) == planning.validate(plan, 10_000) == (count if count is not None else product)
    # Round-robin: each combination appears floor or ceil of n/product times.
    seen: dict[tuple[int, ...], int] = {}
    for t in tasks:
        key = tuple(t[k] for k in matrix)
        seen[key] = seen.get(key, 0) + 1
    assert max(seen.values()) - min(seen.values()) <= 1
