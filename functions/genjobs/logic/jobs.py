"""Use cases of the public API: create, read, list and cancel jobs."""

from __future__ import annotations

import json
import uuid
from typing import Any

from genjobs.logic import cursors, pipelines, planning, templates, views
from genjobs.logic.cancelling import request_cancel
from genjobs.logic.errors import Conflict, InvalidRequest, NotFound, PaymentRequired
from genjobs.logic.ports import Collaborators
from genjobs.models.api import CreateJobRequest, JobDetailView, JobListView, ListJobsQuery, TaskListView
from genjobs.models.domain import (
    TERMINAL_JOB_STATUSES,
    Job,
    JobCredits,
    JobStatus,
    JsonObject,
    Plan,
    ShownJobStatus,
    StepState,
    Task,
    TaskCounts,
    TaskStatus,
    TimelineEvent,
    is_job_id,
    utcnow,
)
from genjobs.models.persistence import InsufficientCredits, JobQuery, Page
from genjobs.observability import logger

# The job item is read by every task step and rewritten by every task transition (its counters), and
# DynamoDB charges each of those by the item's whole size (1 KB write units, 4 KB read units). A
# job's plan and common input are needed once (PrepareJob), so past this size they live in S3. The
# rest of a job item takes about 650 bytes: a larger spec inline would take it past 1 KB and double
# the write units of each of its tasks' transitions, for one S3 PUT and GET per job saved. (A
# 10,000-value matrix inline, 59 KB, made every task step of its job cost 60 write units.)
INLINE_SPEC_BYTES = 320
TASKS_PAGE = 100
# The task inputs one answer carries at most (a page then ends early, with a cursor). Inputs may be
# up to about 360 KB each: unbounded, a page of 100 would pass Lambda's 6 MB response limit, and the
# creation answer, which the idempotency store keeps as one DynamoDB item, its 400 KB.
TASK_PAGE_BYTES = 256 * 1024


def spec_key(job_id: str) -> str:
    """Where a job's plan and common input live when they are over INLINE_SPEC_BYTES."""
    return f"plans/{job_id}.json"


def create_job(
    deps: Collaborators, user_id: str, request: CreateJobRequest, idempotency_key: str | None
) -> JobDetailView:
    """Plans the job exactly, reserves its credits with it atomically, and starts its workflow.

    O(1) in the number of tasks: the plan is stored as given and expanded by the workflow.
    """
    if request.steps is not None:
        job, event = _pipeline_job(deps, user_id, request, idempotency_key)
        _store_and_start(deps, job, event)
        return views.job_detail_view(job, [], None, deps.storage, deps.settings.output_url_ttl_seconds)
    settings = deps.settings
    assert request.provider is not None  # the request checks both
    assert request.model is not None
    model = deps.catalog.resolve(request.provider, request.model)
    if model is None:
        if deps.catalog.providers.get(request.provider) is None:
            raise InvalidRequest.field("provider", f"unknown provider '{request.provider}'")
        raise InvalidRequest.field(
            "model", f"unknown model '{request.model}' of provider '{request.provider}'"
        )
    if request.provider == "simulator" and not settings.simulator_base_url:
        raise InvalidRequest.field("provider", "the simulator is not enabled in this deployment")
    plan = Plan(tasks=request.tasks, matrix=request.matrix, count=request.count)
    try:
        task_count = planning.validate(plan, settings.max_tasks_per_job)
    except planning.PlanError as error:
        raise InvalidRequest.field(error.field, error.reason) from error
    concurrency = min(request.concurrency or settings.default_job_concurrency, settings.max_job_concurrency)

    now = utcnow()
    job_id = str(uuid.uuid4())
    stored_at = None
    spec = {"plan": plan.model_dump(exclude_none=True), "input": request.input}
    if len(json.dumps(spec)) > INLINE_SPEC_BYTES:
        stored_at = spec_key(job_id)
        deps.storage.put_json(stored_at, spec)
    job = Job(
        jobId=job_id,
        userId=user_id,
        status=JobStatus.PENDING,
        provider=request.provider,
        model=request.model,
        input={} if stored_at else request.input,
        plan=None if stored_at else plan,
        specKey=stored_at,
        taskCount=task_count,
        concurrency=concurrency,
        collectionId=request.collection_id,
        metadata=request.metadata,
        counts=TaskCounts(pending=task_count),
        credits=JobCredits(unitPrice=model.price, reserved=model.price * task_count),
        idempotencyKey=idempotency_key,
        createdAt=now,
        updatedAt=now,
    )
    event = TimelineEvent(
        jobId=job_id,
        at=now,
        kind="job.created",
        detail={"taskCount": task_count, "unitPrice": model.price, "creditsReserved": job.credits.reserved},
    )
    _store_and_start(deps, job, event)
    first = range(min(task_count, TASKS_PAGE))
    planned = [_planned_task(job, plan, request.input, i) for i in first]
    last_key = deps.tasks.key_after(job_id, first[-1]) if task_count > TASKS_PAGE else None
    # No task at all when the first is over the budget: the app reads it from the task list.
    page = _within_budget(deps, job_id, Page(planned, last_key), at_least_one=False)
    cursor = _seal(deps, page.last_key, user_id, cursors.tasks_listing(job_id))
    return views.job_detail_view(job, page.items, cursor, deps.storage, settings.output_url_ttl_seconds)


def _pipeline_job(
    deps: Collaborators, user_id: str, request: CreateJobRequest, idempotency_key: str | None
) -> tuple[Job, TimelineEvent]:
    """A pipeline's job: its steps checked and placed, their credits reserved, their definitions
    stored with the job's input as its spec (read by the workflow's planning only)."""
    assert request.steps is not None
    try:
        compiled = pipelines.compile_steps(deps, request.steps, request.input)
    except templates.TemplateError as error:
        raise InvalidRequest.field(error.where, error.reason) from error
    settings = deps.settings
    now = utcnow()
    job_id = str(uuid.uuid4())
    stored_at = spec_key(job_id)
    deps.storage.put_json(
        stored_at,
        {"input": request.input, "steps": [s.model_dump(mode="json", by_alias=True) for s in compiled.specs]},
    )
    job = Job(
        jobId=job_id,
        userId=user_id,
        status=JobStatus.PENDING,
        specKey=stored_at,
        taskCount=compiled.task_count,
        concurrency=min(
            request.concurrency or settings.default_job_concurrency, settings.max_job_concurrency
        ),
        collectionId=request.collection_id,
        metadata=request.metadata,
        counts=TaskCounts(pending=compiled.task_count),
        credits=JobCredits(unitPrice=0, reserved=compiled.reserved),
        idempotencyKey=idempotency_key,
        createdAt=now,
        updatedAt=now,
        steps=compiled.summaries,
        stepStates=[StepState(size=s.fixed_size) for s in compiled.specs],
    )
    detail = {
        "taskCount": compiled.task_count,
        "steps": len(compiled.specs),
        "creditsReserved": compiled.reserved,
    }
    return job, TimelineEvent(jobId=job_id, at=now, kind="job.created", detail=detail)


def _store_and_start(deps: Collaborators, job: Job, event: TimelineEvent) -> None:
    try:
        deps.jobs.create(job, event)
    except InsufficientCredits as error:
        raise PaymentRequired.short("this job", error.needed, error.available) from error
    # A failure here leaves the job PENDING; the sweeper starts it (the start is idempotent by name).
    try:
        deps.workflow.start(job.job_id)
    except Exception:  # noqa: BLE001 - the job is safe; the sweeper retries the start
        logger.exception(
            "start of the job's workflow failed; the sweeper will start it", extra={"jobId": job.job_id}
        )


def _within_budget(
    deps: Collaborators, job_id: str, page: Page[Task], *, at_least_one: bool = True
) -> Page[Task]:
    """The page cut after the tasks whose inputs fit TASK_PAGE_BYTES (a listing keeps at least one,
    so that paging always moves on); the cut page's cursor continues at the first task left out."""
    size = 0
    for kept, task in enumerate(page.items):
        size += len(json.dumps(task.input, separators=(",", ":")))
        if size > TASK_PAGE_BYTES and (kept or not at_least_one):
            # The start key after the last task kept (index -1: before the first task).
            after = page.items[kept - 1].index if kept else -1
            return Page(page.items[:kept], deps.tasks.key_after(job_id, after))
    return page


def _planned_task(job: Job, plan: Plan, common: JsonObject, index: int) -> Task:
    """A task as the plan says it will run, before PrepareJob has written its item (O(1) creation
    leaves that to the workflow, but a client sees every planned task from its first read)."""
    status, error = TaskStatus.PENDING, None
    if job.status.terminal:  # the workflow ended before it wrote this task: it never ran
        status = TaskStatus.CANCELLED if job.status == JobStatus.CANCELLED else TaskStatus.FAILED
        error = "the job ended before this task started"
    return Task(
        jobId=job.job_id,
        index=index,
        status=status,
        input=planning.task_input(plan, common, index),
        error=error,
        createdAt=job.created_at,
        updatedAt=job.updated_at,
    )


def _task_page(
    deps: Collaborators, job: Job, limit: int, start: dict[str, Any] | None, step: str | None = None
) -> Page[Task]:
    """A page of the job's tasks. Until PrepareJob has written every task item (the job is marked
    prepared after the last), the tasks not written yet are shown as planned, so the pages hold
    every index in order whichever of the two they come from."""
    if job.is_pipeline:  # a pipeline's tasks are listed once written; a step's are a block of indexes
        summary = next((s for s in job.steps if s.name == step), None)
        if step is not None and summary is None:
            raise InvalidRequest.field("step", f"job '{job.job_id}' has no step named '{step}'")
        within = (summary.base, summary.base + summary.slots - 1) if summary else None
        return _within_budget(
            deps, job.job_id, deps.tasks.page(job.job_id, limit=limit, start=start, within=within)
        )
    if step is not None:
        raise InvalidRequest.field("step", "a one-step job has no named steps")
    if job.prepared:
        return _within_budget(deps, job.job_id, deps.tasks.page(job.job_id, limit=limit, start=start))
    first = deps.tasks.first_index(job.job_id, start)
    page = deps.tasks.page(job.job_id, limit=limit, start=start)
    end = min(job.task_count, first + limit)
    written = {t.index: t for t in page.items if t.index < end}
    if len(written) == end - first:
        return _within_budget(deps, job.job_id, page)
    if job.plan is not None:
        plan, common = job.plan, job.input
    else:
        assert job.spec_key is not None, f"job {job.job_id} has neither a plan nor a spec key"
        spec = deps.storage.get_json(job.spec_key)
        plan, common = Plan.model_validate(spec["plan"]), spec["input"]
    items = [written.get(i) or _planned_task(job, plan, common, i) for i in range(first, end)]
    last_key = deps.tasks.key_after(job.job_id, end - 1) if end < job.task_count else None
    return _within_budget(deps, job.job_id, Page(items, last_key))


def _owned_job(deps: Collaborators, user_id: str, job_id: str) -> Job:
    job = deps.jobs.get(job_id) if is_job_id(job_id) else None
    if job is None or job.user_id != user_id:  # another user's job does not exist for this caller
        raise NotFound(f"no job '{job_id}'")
    return job


def get_job(deps: Collaborators, user_id: str, job_id: str) -> JobDetailView:
    return _detail(deps, user_id, _owned_job(deps, user_id, job_id))


def detail(deps: Collaborators, user_id: str, job: Job) -> JobDetailView:
    """The job as `user_id` reads it (its tasks' cursor sealed for them)."""
    return _detail(deps, user_id, job)


def _detail(deps: Collaborators, user_id: str, job: Job) -> JobDetailView:
    page = _task_page(deps, job, TASKS_PAGE, None)
    # The tasks' next page is read at /jobs/{jobId}/tasks: sealed for that listing.
    next_page = _seal(deps, page.last_key, user_id, cursors.tasks_listing(job.job_id))
    return views.job_detail_view(
        job, page.items, next_page, deps.storage, deps.settings.output_url_ttl_seconds
    )


def _seal(deps: Collaborators, last_key: dict[str, Any] | None, user_id: str, listing: str) -> str | None:
    if not last_key:
        return None
    return cursors.seal(deps.cursor_key, last_key, user_id=user_id, listing=listing)


def _open(deps: Collaborators, cursor: str | None, user_id: str, listing: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    return cursors.open_cursor(deps.cursor_key, cursor, user_id=user_id, listing=listing)


def list_tasks(
    deps: Collaborators, user_id: str, job_id: str, limit: int, cursor: str | None, step: str | None = None
) -> TaskListView:
    listing = cursors.tasks_listing(job_id, step)
    start = _open(deps, cursor, user_id, listing)
    job = _owned_job(deps, user_id, job_id)
    page = _task_page(deps, job, limit, start, step)
    ttl = deps.settings.output_url_ttl_seconds
    return TaskListView(
        items=[views.task_view(t, deps.storage, ttl, job) for t in page.items],
        cursor=_seal(deps, page.last_key, user_id, listing),
    )


def list_jobs(
    deps: Collaborators,
    user_id: str,
    *,
    status: str | None,
    collection_id: str | None,
    limit: int,
    cursor: str | None,
) -> JobListView:
    statuses: frozenset[JobStatus] | None = None
    paused = False
    if status:
        statuses = frozenset()
        for word in status.split(","):
            word = word.strip()
            if word == ListJobsQuery.ACTIVE:
                statuses |= frozenset(s for s in JobStatus if s.active)
                paused = True
            elif word == ListJobsQuery.FINISHED:
                statuses |= TERMINAL_JOB_STATUSES
            elif word.upper() == ShownJobStatus.PAUSED:
                paused = True
            elif word.upper() in JobStatus.__members__:
                statuses |= {JobStatus(word.upper())}
            else:
                raise InvalidRequest.field(
                    "status",
                    f"'{word}' is not one of active, finished, {', '.join(s.value for s in ShownJobStatus)}",
                )
    listing = cursors.jobs_listing()
    start = _open(deps, cursor, user_id, listing)
    query = JobQuery(limit=limit, start=start, statuses=statuses, collection_id=collection_id, paused=paused)
    page = deps.jobs.of_user(user_id, query)
    return JobListView(
        items=[views.job_view(j) for j in page.items], cursor=_seal(deps, page.last_key, user_id, listing)
    )


def cancel_job(deps: Collaborators, user_id: str, job_id: str) -> JobDetailView:
    """Idempotent: an active job becomes CANCELLING; a job already cancelling or cancelled is returned as is."""
    job = _owned_job(deps, user_id, job_id)
    if job.status in {JobStatus.PENDING, JobStatus.PROCESSING}:
        # None: no longer active since it was read (it ended, or another cancel came first)
        job = request_cancel(deps, job, by=user_id) or _owned_job(deps, user_id, job_id)
    if job.status in {JobStatus.COMPLETED, JobStatus.FAILED}:
        raise Conflict(f"job '{job_id}' already ended {job.status.value}; there is nothing to cancel")
    return _detail(deps, user_id, job)


def list_events(
    deps: Collaborators, user_id: str, job_id: str, limit: int, cursor: str | None
) -> dict[str, Any]:
    listing = cursors.events_listing(job_id)
    start = _open(deps, cursor, user_id, listing)
    job = _owned_job(deps, user_id, job_id)
    page = deps.timeline.page(job_id, limit=limit, start=start)
    items = []
    for event in page.items:
        item = event.model_dump(mode="json", by_alias=True, exclude={"job_id"})
        if job.steps and (event.task_index is not None or "step" in event.detail):
            step = event.detail.get("step")
            item["step"] = step if step is not None else job.steps[job.step_of(event.task_index or 0)].name
        items.append(item)
    return {"items": items, "cursor": _seal(deps, page.last_key, user_id, listing)}
