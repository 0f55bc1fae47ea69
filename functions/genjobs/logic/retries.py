"""Retrying an ended job: its failed (and, when asked, cancelled or never started) tasks run again in
the same job as their next attempt, with credits reserved for exactly those; what completed is
never run or charged again. A pipeline's retried task takes with it every task that was skipped
because of it, and an all-outputs step over it that ran on what had succeeded."""

from __future__ import annotations

from collections.abc import Iterable

from genjobs.logic import scheduler
from genjobs.logic.errors import Conflict, PaymentRequired
from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import task_event
from genjobs.models.api import RetryJobRequest
from genjobs.models.domain import Job, Task, TaskStatus, TimelineEvent, utcnow
from genjobs.models.persistence import InsufficientCredits, JobRetry
from genjobs.models.pipeline import Needs, StepSpec
from genjobs.observability import logger, metrics

# What each `include` word retries.
INCLUDED = {"failed": {TaskStatus.FAILED}, "cancelled": {TaskStatus.CANCELLED}}


def retry(deps: Collaborators, job: Job, request: RetryJobRequest) -> None:
    """Retries the ended job read as `job` (the caller checked who may). Raises Conflict (running,
    nothing to retry, retried too often, or changed meanwhile) and PaymentRequired."""
    job_id = job.job_id
    if not job.status.terminal:
        raise Conflict(f"job '{job_id}' is {job.status.value}: a job can be retried once it has ended")
    limit = deps.settings.max_job_retries
    if job.retries >= limit:
        raise Conflict(f"job '{job_id}' was retried {job.retries} times; at most {limit} retries are allowed")
    if not job.prepared or any(s.size is None for s in job.step_states):
        raise Conflict(f"job '{job_id}' ended before all its tasks were planned: it cannot be retried")
    wanted = set().union(*(INCLUDED[word] for word in request.include))
    tasks = {t.index: t for t in deps.tasks.of_job(job_id)}
    chosen = [t for t in tasks.values() if t.status in wanted]
    replan: set[int] = set()
    if job.is_pipeline and chosen:
        replan = _dependents(deps, job, tasks, {t.index for t in chosen})
        chosen += [tasks[i] for i in sorted(replan)]
    if not chosen:
        statuses = " or ".join(sorted(s.value for s in wanted))
        raise Conflict(f"job '{job_id}' has no {statuses} task: there is nothing to retry")
    chosen.sort(key=lambda t: t.index)
    planned = JobRetry(
        number=job.retries + 1,
        tasks=chosen,
        replan=frozenset(replan),
        amount=sum(job.price_of(t.index) for t in chosen),
    )
    indexes = [t.index for t in chosen]
    event = task_event(
        job_id,
        "job.retried",
        None,
        retry=planned.number,
        include=request.include,
        taskIndexes=indexes,
        creditsReserved=planned.amount,
    )
    try:
        retried = deps.tasks.retry(job, planned, event)
    except InsufficientCredits as error:
        raise PaymentRequired.short("this retry", error.needed, error.available) from error
    if not retried:
        raise Conflict(f"job '{job_id}' changed while it was being retried (another retry came first)")
    _record_attempts(deps, job_id, chosen)
    metrics.add_metric(name="JobsRetried", unit="Count", value=1)
    # A failure here leaves the job marked for the sweeper, which starts this run (named per retry).
    try:
        deps.workflow.start(job_id, planned.number)
    except Exception:  # noqa: BLE001 - the retry is recorded; the sweeper starts its run
        logger.exception(
            "start of the job's retry failed; the sweeper will start it", extra={"jobId": job_id}
        )


def _record_attempts(deps: Collaborators, job_id: str, tasks: Iterable[Task]) -> None:
    at = utcnow()
    deps.timeline.add_many(
        [
            TimelineEvent(
                jobId=job_id,
                at=at,
                kind="task.retried",
                taskIndex=task.index,
                detail={"attempt": task.attempt + 1, "previous": task.status.value},
            )
            for task in tasks
        ]
    )


def _dependents(deps: Collaborators, job: Job, tasks: dict[int, Task], retried: set[int]) -> set[int]:
    """The tasks that run again with the retried ones: those SKIPPED because of one of them, and
    the completed tasks of a step over all of another's outputs that ran on what had succeeded (its
    inputs change), and so on down the graph; each of them is planned again."""
    specs = scheduler.load(deps, job).specs
    found: set[int] = set()
    frontier = set(retried)
    while frontier:
        following: set[int] = set()
        for index in frontier:
            source = specs[job.step_of(index)]
            for spec in specs:
                for candidate in _following(job, source, index, spec):
                    task = tasks.get(candidate)
                    if task is None or candidate in found or candidate in retried:
                        continue
                    if task.status == TaskStatus.SKIPPED or _reruns(spec, task):
                        following.add(candidate)
        found |= following
        frontier = following
    return found


def _following(job: Job, source: StepSpec, index: int, spec: StepSpec) -> list[int]:
    """The tasks of `spec` that depend on task `index` of step `source`."""
    name = source.request.name
    request = spec.request
    size = scheduler.size_of(job, spec) or 0
    whole = name in request.after or (request.over_all is not None and name in request.over_all.steps)
    if request.for_each is not None and request.for_each.step == name:
        if source.request.items is not None:  # a fan-out over the items one task made
            whole = True
        else:
            item = index - source.base
            return [spec.base + item] if item < size else []
    return [spec.base + i for i in range(size)] if whole else []


def _reruns(spec: StepSpec, task: Task) -> bool:
    """A completed task of a step over all of its inputs' successes: it ran without the retried one."""
    over_all = spec.request.over_all
    return task.status == TaskStatus.COMPLETED and over_all is not None and over_all.needs == Needs.SUCCEEDED
