"""Expanding a job's stored plan into task items and the Distributed Map's manifest; between two
rounds of a pipeline, the manifest of the tasks planned next (logic.scheduler)."""

from __future__ import annotations

from genjobs.catalog import WaitBy
from genjobs.logic import batching, planning, scheduler
from genjobs.logic.job_model import first_wait, model_of
from genjobs.logic.ports import Collaborators
from genjobs.models.domain import Job, Plan, StepKind, Task, TaskStatus, TimelineEvent, utcnow
from genjobs.models.messages import (
    ManifestItem,
    ManifestTask,
    PlanTasksInput,
    PlanTasksOutput,
    PrepareJobOutput,
    submit_group,
)

BATCH = 500


def manifest_key(job_id: str) -> str:
    return f"manifests/{job_id}.json"


def first_check(deps: Collaborators, job: Job, index: int) -> int:
    """How long a task's first status check waits, if it is polled (its step's model's)."""
    if job.steps and job.steps[job.step_of(index)].kind != StepKind.ASYNC:
        return 0
    return first_wait(model_of(deps, job.for_task(index)), deps)


def _write_manifest(deps: Collaborators, job: Job, indexes: list[int]) -> None:
    """The round's tasks in batches (logic.batching), each task with its first check's wait."""
    waits: dict[int, int] = {}
    events: dict[int, int] = {}

    def wait_of(index: int) -> int:
        step = job.step_of(index)
        if step not in waits:
            waits[step] = first_check(deps, job, index)
            polled = waits[step] > 0 and model_of(deps, job.for_task(index)).wait_by == WaitBy.POLL
            events[step] = batching.events_per_task(polled, deps.settings.task_deadline_seconds)
        return waits[step]

    if job.steps:
        # Item by item across steps, so that steps with no order between them (seed 002's stages) share
        # the job's concurrency from the start instead of running one after the other.
        indexes = sorted(indexes, key=lambda i: (i - job.steps[job.step_of(i)].base, job.step_of(i)))
    checks = {i: wait_of(i) for i in indexes}
    # A pipeline task's child may run its item's chain after it: one task per step at most.
    links = max(1, len(job.steps))
    cap = batching.batch_cap(deps.settings.max_tasks_per_batch, max(events.values(), default=1) * links)
    items = [
        ManifestItem(
            jobId=job.job_id,
            width=width,
            tasks=[ManifestTask(taskIndex=i, firstCheckSeconds=checks[i]) for i in batch],
        ).to_wire()
        for width, batch in batching.batches(indexes, job.concurrency, cap)
    ]
    deps.storage.put_json(manifest_key(job.job_id), items)


def _put_in_batches(deps: Collaborators, tasks: list[Task]) -> None:
    for start in range(0, len(tasks), BATCH):
        deps.tasks.put_many(tasks[start : start + BATCH])


def _one_step_tasks(deps: Collaborators, job: Job) -> list[int]:
    plan, common_input = job.plan, job.input
    if job.spec_key:
        spec = deps.storage.get_json(job.spec_key)
        plan, common_input = Plan.model_validate(spec["plan"]), spec["input"]
    assert plan is not None, f"job {job.job_id} has neither a plan nor a spec key"
    now = utcnow()
    batch: list[Task] = []
    for index, task_input in enumerate(planning.expand(plan, common_input)):
        batch.append(
            Task(
                jobId=job.job_id,
                index=index,
                status=TaskStatus.PENDING,
                input=task_input,
                createdAt=now,
                updatedAt=now,
            )
        )
        if len(batch) == BATCH:
            deps.tasks.put_many(batch)
            batch = []
    if batch:
        deps.tasks.put_many(batch)
    return list(range(job.task_count))


def _pipeline_tasks(deps: Collaborators, job: Job) -> list[int]:
    """Writes the tasks of every step whose size is known; those depending on nothing are planned."""
    pipeline = scheduler.load(deps, job)
    roots: list[int] = []
    for spec in pipeline.specs:
        size = scheduler.size_of(job, spec)
        if size is None:
            continue
        planned = not spec.depends
        tasks = scheduler.new_tasks(job, spec, size, planned, pipeline.job_input)
        _put_in_batches(deps, tasks)
        if planned:
            roots += [t.index for t in tasks]
    return roots


def prepare(deps: Collaborators, job_id: str) -> PrepareJobOutput:
    """Idempotent: a replay after the tasks exist writes nothing and returns the same manifest."""
    job = deps.jobs.get(job_id)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    if not job.prepared:
        first = _pipeline_tasks(deps, job) if job.is_pipeline else _one_step_tasks(deps, job)
        deps.checkpoints.reach("prepare.after_tasks_written", job.user_id, job_id)
        _write_manifest(deps, job, first)
        started = deps.jobs.mark_started(job_id)
        deps.timeline.add(
            TimelineEvent(
                jobId=job_id,
                at=utcnow(),
                kind="job.started",
                detail={"taskCount": job.task_count, "concurrency": job.concurrency},
            )
        )
        job = started or job
    elif job.retries:
        job = _retry_round(deps, job)
    if job.cancel_requested:
        # Cancelled before its tasks ran: its round runs nothing and the job settles, which ends
        # its tasks CANCELLED and refunds them.
        deps.storage.put_json(manifest_key(job_id), [])
    more = (
        job.is_pipeline
        and not job.cancel_requested
        and any(s.depends for s in scheduler.load(deps, job).specs)
    )
    return _state(deps, job, more)


def _retry_round(deps: Collaborators, job: Job) -> Job:
    """A retry's run: its first round runs the retried tasks whose input is known (all of a one-step
    job's; a pipeline's others are planned again by the rounds after it)."""
    ready = [
        t.index
        for t in deps.tasks.in_status(job.job_id, TaskStatus.PENDING)
        if not job.is_pipeline or t.planned_at is not None
    ]
    _write_manifest(deps, job, ready)
    return deps.jobs.mark_started(job.job_id) or job  # clears the sweeper's mark


def _state(deps: Collaborators, job: Job, more_rounds: bool) -> PrepareJobOutput:
    return PrepareJobOutput(
        jobId=job.job_id,
        manifestKey=manifest_key(job.job_id),
        concurrency=job.concurrency,
        taskCount=job.task_count,
        cancelRequested=job.cancel_requested,
        moreRounds=more_rounds,
        firstCheckSeconds=first_check(deps, job, 0),
        heartbeatSeconds=deps.settings.heartbeat_seconds,
        deadlineSeconds=deps.settings.task_deadline_seconds,
        messageGroup=submit_group(job.user_id),
    )


def plan_next(deps: Collaborators, state: PlanTasksInput) -> PlanTasksOutput:
    """After a round: the next round's manifest (empty when nothing is left to run: the job then
    settles after it), and whether another round may follow it. A cancelled pipeline plans nothing
    more (settlement closes what is left)."""
    job = deps.jobs.get(state.job_id)
    if job is None:
        raise LookupError(f"job {state.job_id} does not exist")
    planned = scheduler.Round(ready=[], more=False)
    if job.is_pipeline and not job.status.terminal and not job.cancel_requested:
        planned = scheduler.plan_round(deps, job)
    _write_manifest(deps, job, planned.ready)
    fields = state.model_dump(by_alias=True) | {
        "taskCount": len(planned.ready),
        "done": not planned.ready,
        "moreRounds": bool(planned.ready) and planned.more,
        "messageGroup": submit_group(job.user_id),
    }
    return PlanTasksOutput.model_validate(fields)
