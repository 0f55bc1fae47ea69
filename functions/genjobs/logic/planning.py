"""Exact task planning: N means N.

A job names its tasks either explicitly (`tasks`) or as a matrix of named value lists. Without a
`count`, a matrix runs every combination once, in order (the first dimension varies slowest); with
a `count`, exactly `count` tasks are taken round-robin over the combinations, wrapping around. Any
task's input is computed from its index alone, so a 10,000-task plan is stored as the request gave
it and expanded later, outside the API request.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from genjobs.models.domain import JsonObject, Plan
from genjobs.models.pipeline import StepRequest


class PlanError(ValueError):
    """The plan cannot be run; `field` names the offending request field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def combinations_count(matrix: dict[str, list[Any]]) -> int:
    return math.prod(len(values) for values in matrix.values())


def task_count(plan: Plan) -> int:
    if plan.tasks is not None:
        return len(plan.tasks)
    assert plan.matrix is not None
    return plan.count if plan.count is not None else combinations_count(plan.matrix)


def validate(plan: Plan, max_tasks: int) -> int:
    """Returns the exact number of tasks, or raises PlanError naming the field."""
    if (plan.tasks is None) == (plan.matrix is None):
        raise PlanError("tasks", "give exactly one of 'tasks' or 'matrix'")
    if plan.tasks is not None:
        if plan.count is not None:
            raise PlanError("count", "'count' applies to a matrix only")
        if not plan.tasks:
            raise PlanError("tasks", "must hold at least one task")
    else:
        assert plan.matrix is not None
        if not plan.matrix:
            raise PlanError("matrix", "must have at least one dimension")
        for name, values in plan.matrix.items():
            if not values:
                raise PlanError(f"matrix.{name}", "must list at least one value")
        if plan.count is None and combinations_count(plan.matrix) > max_tasks:
            raise PlanError(
                "matrix",
                f"has {combinations_count(plan.matrix)} combinations, over the limit of {max_tasks} "
                "tasks per job; give a 'count'",
            )
    n = task_count(plan)
    if n > max_tasks:
        raise PlanError(
            "count" if plan.count is not None else "tasks", f"{n} tasks is over the limit of {max_tasks}"
        )
    if n < 1:
        raise PlanError("count", "must be at least 1")
    return n


def combination(matrix: dict[str, list[Any]], ordinal: int) -> list[tuple[str, Any]]:
    """The ordinal-th combination of the matrix (first dimension slowest), by mixed-radix digits."""
    dims: Sequence[tuple[str, list[Any]]] = list(matrix.items())
    picked: list[tuple[str, Any]] = []
    for name, values in reversed(dims):
        ordinal, digit = divmod(ordinal, len(values))
        picked.append((name, values[digit]))
    picked.reverse()
    return picked


def task_input(plan: Plan, common: JsonObject, index: int) -> JsonObject:
    """The input of task `index`: the job's common input, then the task's own values on top.

    A matrix value that is an object is merged into the input (e.g. a role with its reference
    photo); any other value is set under its dimension's name.
    """
    merged: JsonObject = dict(common)
    if plan.tasks is not None:
        merged.update(plan.tasks[index])
        return merged
    assert plan.matrix is not None
    ordinal = index % combinations_count(plan.matrix)
    for name, value in combination(plan.matrix, ordinal):
        if isinstance(value, dict):
            merged.update(value)
        else:
            merged[name] = value
    return merged


def expand(plan: Plan, common: JsonObject) -> Iterator[JsonObject]:
    for index in range(task_count(plan)):
        yield task_input(plan, common, index)


def step_plan(step: StepRequest) -> Plan:
    """A pipeline step's own tasks: its `tasks` or `matrix`, else `count` (default 1) alike."""
    if step.tasks is not None or step.matrix is not None:
        return Plan(tasks=step.tasks, matrix=step.matrix, count=step.count)
    return Plan(tasks=[{} for _ in range(step.count or 1)])
