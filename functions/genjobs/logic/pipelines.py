"""Checking a pipeline when it is created: its graph, shapes, references and prices.

Everything is decided here, before anything is written: each step's place (its tasks are the
indexes [base, base + slots)), its price, and the credits the whole pipeline reserves (a fan-out
whose size is only known later reserves its `max`). A refusal names `steps.<i>.<field>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from genjobs.logic import planning, templates
from genjobs.logic.errors import InvalidRequest
from genjobs.logic.planning import step_plan
from genjobs.logic.ports import Collaborators
from genjobs.models.domain import StepKind, StepSummary
from genjobs.models.pipeline import StepRequest, StepSpec

MAX_STEPS = 20
MAX_ITEMS = 1000  # per fan-out (a forEach step)


@dataclass(frozen=True)
class Compiled:
    specs: list[StepSpec]
    task_count: int
    reserved: int

    @property
    def summaries(self) -> list[StepSummary]:
        return [
            StepSummary(
                name=s.request.name,
                kind=s.request.kind,
                provider=s.request.provider,
                model=s.request.model,
                function=s.request.function,
                price=s.price,
                base=s.base,
                slots=s.slots,
                final=not any(s.request.name in other.depends for other in self.specs),
                timeoutSeconds=s.request.timeout_seconds,
                onTimeout=s.request.on_timeout.value if s.request.kind == StepKind.SIGNAL else None,
            )
            for s in self.specs
        ]


def _refuse(number: int, field: str, reason: str) -> InvalidRequest:
    return InvalidRequest.field(f"steps.{number}.{field}", reason)


def dependencies(step: StepRequest) -> list[str]:
    found = list(step.after)
    if step.for_each:
        found.append(step.for_each.step)
    if step.over_all:
        found.extend(step.over_all.steps)
    return list(dict.fromkeys(found))


def compile_steps(deps: Collaborators, steps: list[StepRequest], job_input: dict[str, Any]) -> Compiled:
    if len(steps) > MAX_STEPS:
        raise InvalidRequest.field("steps", f"{len(steps)} steps is over the limit of {MAX_STEPS}")
    numbers: dict[str, int] = {}
    for n, step in enumerate(steps):
        if step.name in numbers:
            raise _refuse(n, "name", f"'{step.name}' is the name of step {numbers[step.name]} too")
        numbers[step.name] = n
    graph: dict[str, list[str]] = {}
    for n, step in enumerate(steps):
        for name in dependencies(step):
            if name not in numbers:
                raise _refuse(n, _dependency_field(step, name), f"no step is named '{name}'")
            if name == step.name:
                raise _refuse(n, _dependency_field(step, name), "a step cannot depend on itself")
        graph[step.name] = dependencies(step)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        cycle = " -> ".join(error.args[1])
        raise _refuse(
            numbers[error.args[1][0]], "after", f"the steps depend on each other in a cycle: {cycle}"
        ) from error

    sizes: dict[str, tuple[int, int | None]] = {}  # name -> (slots, size when known at creation)
    for name in order:
        n = numbers[name]
        sizes[name] = _size(deps, n, steps[n], steps, numbers, sizes)
    specs: list[StepSpec] = []
    base = reserved = 0
    for n, step in enumerate(steps):
        price, waits_by = _price(deps, n, step)
        _check_templates(n, step, job_input)
        slots, fixed = sizes[step.name]
        specs.append(
            StepSpec(
                number=n,
                request=step,
                depends=dependencies(step),
                price=price,
                base=base,
                slots=slots,
                fixedSize=fixed,
                modelWaitsBy=waits_by,
            )
        )
        base += slots
        reserved += slots * price
    limit = deps.settings.max_pipeline_tasks
    if base > limit:
        raise InvalidRequest.field("steps", f"the steps plan up to {base} tasks, over the limit of {limit}")
    return Compiled(specs, base, reserved)


def _dependency_field(step: StepRequest, name: str) -> str:
    if step.for_each and step.for_each.step == name:
        return "forEach.step"
    if step.over_all and name in step.over_all.steps:
        return "overAll.steps"
    return "after"


def _size(
    deps: Collaborators,
    n: int,
    step: StepRequest,
    steps: list[StepRequest],
    numbers: dict[str, int],
    sizes: dict[str, tuple[int, int | None]],
) -> tuple[int, int | None]:
    shapes = [s for s, given in (("forEach", step.for_each), ("overAll", step.over_all)) if given]
    if step.tasks is not None or step.matrix is not None:
        shapes.append("tasks" if step.tasks is not None else "matrix")
    if len(shapes) > 1:
        raise _refuse(
            n, shapes[1], f"give one of 'tasks', 'matrix', 'forEach' or 'overAll', not {' and '.join(shapes)}"
        )
    if step.items is not None:
        templates.compile_path(f"steps.{n}.items", step.items)
    if step.for_each:
        if step.count is not None:
            raise _refuse(n, "count", "'count' does not apply to a forEach step")
        source = steps[numbers[step.for_each.step]]
        slots, known = sizes[source.name]
        if source.items is not None:
            if step.for_each.max is None:
                raise _refuse(
                    n,
                    "forEach.max",
                    f"step '{source.name}' makes its items when it runs: give their most, 'max'",
                )
            return step.for_each.max, None
        if step.for_each.max is not None and known is not None and step.for_each.max < known:
            raise _refuse(
                n, "forEach.max", f"step '{source.name}' has {known} tasks, more than {step.for_each.max}"
            )
        return slots, known
    if step.over_all:
        if step.count is not None:
            raise _refuse(n, "count", "'count' does not apply to an overAll step")
        return 1, 1
    if step.kind == StepKind.SIGNAL and (step.count or 1) != 1:
        raise _refuse(n, "count", "a signal step is one wait")
    try:
        count = planning.validate(step_plan(step), MAX_ITEMS)
    except planning.PlanError as error:
        raise _refuse(n, error.field, error.reason) from error
    if step.items is not None and count != 1:
        raise _refuse(n, "items", "only a step of one task can split its result into items")
    return count, count


def _price(deps: Collaborators, n: int, step: StepRequest) -> tuple[int, Any]:
    """The price of one task of the step, and how its model is waited for (provider steps)."""
    kind = step.kind
    if kind in (StepKind.ASYNC, StepKind.SYNC):
        if step.provider is None or step.model is None:
            raise _refuse(
                n, "provider" if step.provider is None else "model", f"a {kind.value} step needs it"
            )
        model = deps.catalog.resolve(step.provider, step.model)
        if model is None:
            if deps.catalog.providers.get(step.provider) is None:
                raise _refuse(n, "provider", f"unknown provider '{step.provider}'")
            raise _refuse(n, "model", f"unknown model '{step.model}' of provider '{step.provider}'")
        if step.provider == "simulator" and not deps.settings.simulator_base_url:
            raise _refuse(n, "provider", "the simulator is not enabled in this deployment")
        sync = model.sync
        if kind == StepKind.SYNC and not sync:
            raise _refuse(n, "model", f"'{step.model}' does not answer synchronously; use kind 'async'")
        if kind == StepKind.ASYNC and sync:
            raise _refuse(n, "kind", f"'{step.model}' answers synchronously; use kind 'sync'")
        return model.price, model.wait_by.value
    for field in ("provider", "model"):
        if getattr(step, field) is not None:
            raise _refuse(n, field, f"a {kind.value} step has no {field}")
    if kind == StepKind.LAMBDA:
        if step.function is None:
            raise _refuse(n, "function", "a lambda step names the app function it invokes")
        if deps.settings.app_function_arn(step.function) is None:
            raise _refuse(n, "function", f"'{step.function}' is not one of this deployment's AppFunctionArns")
    elif step.function is not None:
        raise _refuse(n, "function", f"a {kind.value} step has no function")
    if kind == StepKind.SIGNAL:
        limit = deps.settings.task_deadline_seconds
        if step.timeout_seconds is None:
            raise _refuse(n, "timeoutSeconds", "a signal step says how long it waits")
        if step.timeout_seconds > limit:
            raise _refuse(n, "timeoutSeconds", f"at most the task deadline, {limit} s")
    elif step.timeout_seconds is not None:
        raise _refuse(n, "timeoutSeconds", "only a signal step has a timeout")
    return 0, None


def _check_templates(n: int, step: StepRequest, job_input: dict[str, Any]) -> None:
    allowed = set(dependencies(step))
    places = list(templates.references(step.input, "input"))
    for k, task in enumerate(step.tasks or []):
        places += list(templates.references(task, f"tasks.{k}"))
    for where, path in places:
        field = f"steps.{n}.{where}"
        templates.compile_path(field, path)
        root = templates.root_of(path)
        if root not in templates.ROOTS:
            raise _refuse(
                n, where, f"'${{{path}}}' refers to '{root}'; use input, item, index or steps.<name>"
            )
        if root in ("item", "index") and step.for_each is None:
            raise _refuse(n, where, f"'${{{path}}}': only a forEach step has an item")
        if root == "steps":
            name = templates.step_of(path)
            if name is None or name not in allowed:
                raise _refuse(
                    n,
                    where,
                    f"'${{{path}}}' refers to a step this one does not depend on ({', '.join(allowed) or 'none'})",
                )
        if root == "input":
            try:
                templates.find(path, {"input": job_input}, field)
            except templates.TemplateError as error:
                raise _refuse(n, where, f"'${{{path}}}' finds nothing in the job's input") from error
