"""Planning a pipeline's tasks from what has ended (docs/design/pipelines.md).

Decided from the committed task items, never from a stored counter: a task is planned (claimed,
its input rendered) once every task it depends on has ended; it is SKIPPED when one it needs did
not complete. `plan_round` runs between two rounds of the workflow's Map (nothing of the job is
running then); `continue_chain` lets the task that just ended hand its child workflow on to the
next link of its item's chain (scene 1's avatar starts as soon as scene 1's speech is ready).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genjobs.logic import planning, templates
from genjobs.logic.planning import step_plan
from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import end_task, task_event
from genjobs.models import stored
from genjobs.models.domain import Job, StepKind, Task, TaskStatus, TimelineEvent, utcnow
from genjobs.models.pipeline import Needs, StepSpec

Lookup = Callable[[int], Task | None]

# How long an output's URL in a next step's input stays valid: the provider may fetch it after a
# queue of its own. A URL signed with a Lambda's session credentials ends with the session anyway.
INPUT_URL_TTL_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Pipeline:
    specs: list[StepSpec]
    job_input: dict[str, Any]
    # Reads a stored JSON output (a result too big to keep on its task item).
    read_json: Callable[[str], Any]
    # A step's items split from its task's result, once per planning (a fan-out reads them per task).
    _items: dict[int, list[Any]] = field(default_factory=dict)

    def named(self, name: str) -> StepSpec:
        return next(s for s in self.specs if s.request.name == name)

    def items_of(self, spec: StepSpec, head: Task) -> list[Any]:
        if spec.number not in self._items:
            assert spec.request.items is not None
            self._items[spec.number] = templates.split_items(spec.request.items, self.result_of(head))
        return self._items[spec.number]

    def result_of(self, task: Task) -> Any:
        """What a task returned as data: kept on its item, or (over MAX_RESULT_BYTES there) read back
        from its first output when that is JSON or text (a script of 1,000 scenes)."""
        if task.result is not None or not task.outputs:
            return task.result
        first = task.outputs[0]
        if not first.content_type.startswith(("application/json", "text/")):
            return None
        try:
            return self.read_json(first.key)
        except ValueError:
            return None


def load(deps: Collaborators, job: Job) -> Pipeline:
    assert job.spec_key, f"pipeline job {job.job_id} has no spec"
    spec = deps.storage.get_json(job.spec_key)
    return Pipeline([StepSpec.model_validate(s) for s in spec["steps"]], spec["input"], deps.storage.get_json)


def size_of(job: Job, spec: StepSpec) -> int | None:
    state = job.step_states[spec.number] if spec.number < len(job.step_states) else None
    return spec.fixed_size if spec.fixed_size is not None else (state.size if state else None)


def new_tasks(job: Job, spec: StepSpec, size: int, planned: bool, job_input: dict[str, Any]) -> list[Task]:
    """The task items of a step once its size is known; a step that depends on nothing is planned
    at once (its input needs nothing else)."""
    now = utcnow()
    plan = (
        step_plan(spec.request) if spec.request.for_each is None and spec.request.over_all is None else None
    )
    tasks = []
    for item in range(size):
        task_input: dict[str, Any] = {}
        if planned:
            task_input = _static_input(spec, plan, item, job_input)
        tasks.append(
            Task(
                jobId=job.job_id,
                index=spec.base + item,
                status=TaskStatus.PENDING,
                input=task_input,
                plannedAt=now if planned else None,
                createdAt=now,
                updatedAt=now,
            )
        )
    return tasks


def _static_input(spec: StepSpec, plan: Any, item: int, job_input: dict[str, Any]) -> dict[str, Any]:
    rendered = templates.render(spec.request.input, {"input": job_input}, f"steps.{spec.number}.input")
    return planning.task_input(plan, rendered, item) if plan is not None else dict(rendered)


# ----------------------------------------------------------------------------- readiness
@dataclass(frozen=True)
class Verdict:
    """WAIT (something it depends on has not ended), SKIP, FAIL (its input cannot be rendered) or
    READY with its input."""

    outcome: str
    reason: str = ""
    input: dict[str, Any] | None = None


WAIT = Verdict("WAIT")


def _step_tasks(job: Job, spec: StepSpec, lookup: Lookup) -> list[Task] | None:
    """All tasks of a step once every one has ended (None while any runs or its size is unknown)."""
    size = size_of(job, spec)
    if size is None:
        return None
    tasks = [lookup(spec.base + i) for i in range(size)]
    if any(t is None or not t.status.terminal for t in tasks):
        return None
    return [t for t in tasks if t is not None]


def task_context(deps: Collaborators, job: Job, spec: StepSpec, task: Task) -> dict[str, Any]:
    """What a template sees of an ended task: its item number, status, input, result and outputs
    (with URLs the next provider can fetch)."""
    ttl = INPUT_URL_TTL_SECONDS
    return {
        "index": task.index - spec.base,
        "status": task.status.value,
        "input": task.input,
        "result": task.result,
        "outputs": [
            {"url": deps.storage.presign(o.key, ttl), "contentType": o.content_type, "size": o.size}
            for o in task.outputs
        ],
    }


def readiness(
    deps: Collaborators, job: Job, pipeline: Pipeline, spec: StepSpec, item: int, lookup: Lookup
) -> Verdict:
    request = spec.request
    context: dict[str, Any] = {"input": pipeline.job_input, "index": item, "steps": {}}
    for name in request.after:
        done = _step_tasks(job, pipeline.named(name), lookup)
        if done is None:
            return WAIT
        if any(t.status != TaskStatus.COMPLETED for t in done):
            return Verdict("SKIP", f"step '{name}' did not complete")
    if request.for_each:
        source = pipeline.named(request.for_each.step)
        if source.request.items is not None:
            head = lookup(source.base)
            if head is None or head.status != TaskStatus.COMPLETED:
                return WAIT if head is None or not head.status.terminal else Verdict("SKIP", "no items")
            elements = pipeline.items_of(source, head)
            context["item"] = elements[item] if item < len(elements) else None
        else:
            head = lookup(source.base + item)
            if head is None or not head.status.terminal:
                return WAIT
            if head.status != TaskStatus.COMPLETED:
                return Verdict("SKIP", f"item {item} of step '{source.request.name}' {head.status.value}")
            context["item"] = task_context(deps, job, source, head)
    for name in [*(request.over_all.steps if request.over_all else []), *request.after]:
        source = pipeline.named(name)
        done = _step_tasks(job, source, lookup)
        if done is None:
            return WAIT
        completed = [t for t in done if t.status == TaskStatus.COMPLETED]
        if request.over_all and name in request.over_all.steps:
            needs_all = request.over_all.needs == Needs.ALL
            if (needs_all and len(completed) < len(done)) or not completed:
                return Verdict("SKIP", f"step '{name}': {len(completed)} of {len(done)} completed")
        views = [task_context(deps, job, source, t) for t in done]
        context["steps"][name] = {
            "tasks": views,
            "outputs": [o["url"] for v in views if v["status"] == "COMPLETED" for o in v["outputs"]],
            "results": [v["result"] for v in views if v["status"] == "COMPLETED"],
        }
    try:
        rendered = templates.render(request.input, context, f"steps.{spec.number}.input")
        if request.tasks is not None or request.matrix is not None:
            rendered = planning.task_input(step_plan(request), rendered, item)
    except templates.TemplateError as error:
        return Verdict("FAIL", str(error))
    if stored.size(rendered) > stored.MAX_TASK_INPUT_BYTES:
        return Verdict(
            "FAIL",
            f"its input would take {stored.size(rendered):,} bytes; a task's input holds at most "
            f"{stored.MAX_TASK_INPUT_BYTES:,} (an overAll step over this many outputs needs fewer, or "
            "an app function that lists them itself)",
        )
    return Verdict("READY", input=rendered)


def settle_task(deps: Collaborators, job: Job, task: Task, verdict: Verdict) -> bool:
    """Applies a verdict: True when the task was planned (READY and claimed by this caller)."""
    if verdict.outcome == "READY":
        assert verdict.input is not None
        return deps.tasks.claim(job.job_id, task.index, verdict.input)
    if verdict.outcome == "SKIP":
        end_task(
            deps, job, task, TaskStatus.SKIPPED, "task.skipped", reason=verdict.reason, error=verdict.reason
        )
    elif verdict.outcome == "FAIL":
        end_task(deps, job, task, TaskStatus.FAILED, "task.failed", error=f"pipeline.input: {verdict.reason}")
    return False


# ----------------------------------------------------------------------------- a round
@dataclass(frozen=True)
class Round:
    """The tasks a round runs, and whether tasks it does not run are left (another round may follow)."""

    ready: list[int]
    more: bool


def plan_round(deps: Collaborators, job: Job) -> Round:
    """Resolves the sizes now known, skips what cannot run, claims what can: the tasks the next
    round runs (with any planned task a previous round left unrun)."""
    pipeline = load(deps, job)
    tasks = {t.index: t for t in deps.tasks.of_job(job.job_id)}
    planned: list[int] = []
    changed = True
    while changed and not job.cancel_requested:
        changed = False
        for spec in pipeline.specs:
            if size_of(job, spec) is None:
                known = _known_size(job, pipeline, spec, tasks.get)
                if known is not None:
                    _resolve(deps, job, spec, *known, tasks)
                    job = deps.jobs.get(job.job_id) or job
                    changed = True
        for index in sorted(tasks):
            task = tasks[index]
            if task.status != TaskStatus.PENDING or task.planned_at is not None:
                continue
            spec = pipeline.specs[job.step_of(index)]
            verdict = readiness(deps, job, pipeline, spec, index - spec.base, tasks.get)
            if verdict.outcome == "WAIT":
                continue
            if verdict.outcome == "READY":
                if settle_task(deps, job, task, verdict):
                    planned.append(index)
                    tasks[index] = task.model_copy(update={"planned_at": utcnow(), "input": verdict.input})
                    continue  # planned: nothing it changes can make another task ready this round
            else:
                settle_task(deps, job, task, verdict)
                job = deps.jobs.get(job.job_id) or job  # its counts and credits moved
            tasks[index] = deps.tasks.get(job.job_id, index) or task
            changed = True
    # Left by a child that ended before them (a chain whose head's wait was retried): run them again,
    # a task already at its provider is only waited for (its token attached), never submitted twice.
    left = [
        i
        for i, t in tasks.items()
        if i not in planned
        and (t.status == TaskStatus.PROCESSING or (t.status == TaskStatus.PENDING and t.planned_at))
    ]
    ready = sorted(planned + left)
    unsized = any(size_of(job, spec) is None for spec in pipeline.specs)
    running = set(ready)
    waiting = any(not t.status.terminal and i not in running for i, t in tasks.items())
    return Round(ready=ready, more=unsized or waiting)


def _known_size(job: Job, pipeline: Pipeline, spec: StepSpec, lookup: Lookup) -> tuple[int, str] | None:
    """A fan-out's size once its source has ended, with why it is that (None: not known yet)."""
    assert spec.request.for_each is not None  # every other shape's size is fixed at creation
    source = pipeline.named(spec.request.for_each.step)
    name = source.request.name
    if source.request.items is None:
        size = size_of(job, source)
        return None if size is None else (size, f"one per task of '{name}'")
    head = lookup(source.base)
    if head is None or not head.status.terminal:
        return None
    if head.status != TaskStatus.COMPLETED:
        return 0, f"'{name}' {head.status.value}: it made no items"
    try:
        items = len(pipeline.items_of(source, head))
    except templates.TemplateError as error:
        return 0, f"'{name}' made no items: {error.reason}"
    if items > spec.slots:
        return spec.slots, f"'{name}' made {items} items; the first {spec.slots} (its max) run"
    return items, f"one per item of '{name}'"


def _resolve(
    deps: Collaborators, job: Job, spec: StepSpec, size: int, why: str, tasks: dict[int, Task]
) -> None:
    detail = {"step": spec.request.name, "size": size, "slotsReleased": spec.slots - size, "reason": why}
    event = TimelineEvent(jobId=job.job_id, at=utcnow(), kind="step.sized", detail=detail)
    deps.jobs.resolve_step_size(job, spec.number, size, event)
    fresh = [t for t in new_tasks(job, spec, size, False, {}) if t.index not in tasks]
    if fresh:
        deps.tasks.put_many(fresh)
        tasks.update({t.index: t for t in fresh})


# ----------------------------------------------------------------------------- chains
def chainable(spec: StepSpec) -> bool:
    """Whether a task of this step can run in the child workflow of the one it follows: it is not
    polled (a polled task's child waits on its own index) and needs nothing but that one task."""
    request = spec.request
    if request.for_each is None or request.after or request.over_all:
        return False
    if any(templates.root_of(path) == "steps" for _, path in templates.references(request.input)):
        return False
    return request.kind != StepKind.ASYNC or spec.model_waits_by == "webhook"


def continue_chain(deps: Collaborators, job: Job, task: Task) -> int | None:
    """The next link of the ended task's item chain, claimed for the caller's child workflow, or None."""
    if not job.steps or job.cancel_requested or task.status != TaskStatus.COMPLETED:
        return None
    pipeline = load(deps, job)
    step = pipeline.specs[job.step_of(task.index)]
    if step.request.items is not None:
        return None
    item = task.index - step.base

    def lookup(index: int) -> Task | None:
        return task if index == task.index else deps.tasks.get(job.job_id, index)

    for spec in pipeline.specs:
        if spec.request.for_each is None or spec.request.for_each.step != step.request.name:
            continue
        if not chainable(spec) or size_of(job, spec) is None:
            continue
        follower = deps.tasks.get(job.job_id, spec.base + item)
        if follower is None or follower.status != TaskStatus.PENDING or follower.planned_at is not None:
            continue
        verdict = readiness(deps, job, pipeline, spec, item, lookup)
        if verdict.outcome == "READY" and deps.tasks.claim(job.job_id, follower.index, verdict.input or {}):
            deps.timeline.add(task_event(job.job_id, "task.chained", follower.index, after=task.index))
            return follower.index
    return None
