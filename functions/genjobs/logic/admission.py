"""Fair dispatch at a task's submission: a provider task takes a slot (its user's plan limit, its
provider's and model's limits) before it is submitted, or its token is parked on its task item and
the dispatcher (logic.dispatch) releases it into a slot later. Held tasks are not retried by SQS:
their message succeeds, so no receive is burnt and nothing reaches a dead-letter queue.

In "fifo" mode no slot is taken: tasks are submitted in queue order, as they always were (a
paused job's are still parked).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from genjobs.logic.plans import UserPlan, plan_of_account
from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import task_event
from genjobs.models.domain import Job, StepKind, Task, TaskStatus
from genjobs.models.limits import ProviderLimits
from genjobs.models.persistence import Admission, Held, Limit, PoolState, Refused
from genjobs.observability import metrics


def _merged(catalog: ProviderLimits, override: ProviderLimits | None) -> ProviderLimits:
    """An operator's override replaces the catalog's limit of each kind it names."""
    if override is None:
        return catalog
    return catalog.model_copy(update=override.model_dump(exclude_unset=True))


def limits_of(deps: Collaborators, provider: str, model: str) -> tuple[Limit, ...]:
    """The limited scopes a task of `provider`/`model` takes a place in: its provider when it has a
    concurrency or rate limit, its model when it has a concurrency limit. Unlimited scopes cost
    nothing (no counter)."""
    entry = deps.catalog.resolve(provider, model)
    overrides = deps.settings.provider_limits
    account = _merged(entry.provider_limits if entry else ProviderLimits(), overrides.get(provider))
    scope = f"{provider}/{model}"
    own = _merged(entry.model_limits if entry else ProviderLimits(), overrides.get(scope))
    found = []
    if account.concurrency or account.rate_per_minute:
        found.append(Limit(provider, account.concurrency, account.rate_per_minute, account.reserve_in_force))
    if own.concurrency:
        found.append(Limit(scope, own.concurrency, reserve=own.reserve_in_force))
    return tuple(found)


def takes_slot(job: Job, task: Task) -> bool:
    """Tasks that call a provider take a slot; app functions and signals do not."""
    kind = job.steps[job.step_of(task.index)].kind if job.steps else StepKind.ASYNC
    return kind in (StepKind.ASYNC, StepKind.SYNC)


def rate_window(deps: Collaborators, at: datetime) -> tuple[str, datetime]:
    """The minute (of schedule time) a create at `at` counts in, and when the next one begins."""
    length = deps.clock.duration(60).total_seconds()
    number = int(at.timestamp() // length)
    return str(number), datetime.fromtimestamp((number + 1) * length, tz=at.tzinfo)


def admission_of(
    deps: Collaborators,
    job: Job,
    index: int,
    held: Held | None = None,
    plan: UserPlan | None = None,
    in_flight: int | None = None,
) -> Admission:
    """The admission of a job's task, under `plan` with the user's `in_flight` tasks (both read from
    the user's account when not given)."""
    if plan is None or in_flight is None:
        account = deps.credits.account(job.user_id)
        plan = plan or plan_of_account(deps, account)
        in_flight = account.in_flight if in_flight is None else in_flight
    at = deps.clock.now()
    return Admission(
        job_id=job.job_id,
        index=index,
        user_id=job.user_id,
        max_in_flight=plan.limits.max_in_flight,
        limits=limits_of(deps, job.provider, job.model),
        at=at,
        provider=job.provider,
        priority=plan.limits.priority,
        window=rate_window(deps, at)[0],
        held=held,
        newcomer=in_flight == 0,
    )


def pools_of(
    deps: Collaborators, admission: Admission, known: dict[str, PoolState] | None = None
) -> dict[str, PoolState]:
    """The pools an admission reads: each limited scope's, and its provider's (an unlimited provider
    is still blocked by a 429). Those in `known` are not read again; those read are added to it."""
    known = {} if known is None else known
    scopes = {limit.scope for limit in admission.limits} | {admission.provider}
    for scope in sorted(scopes - known.keys()):
        known[scope] = deps.slots.pool(scope)
    return {scope: known[scope] for scope in sorted(scopes)}


def taken(pools: dict[str, PoolState], admission: Admission) -> None:
    """Counts an admission in `pools` as it was written (in flight, and this minute's creates)."""
    for limit in admission.limits:
        state = pools[limit.scope]
        count = state.rate_count + 1 if state.rate_window == admission.window else 1
        pools[limit.scope] = replace(
            state, in_flight=state.in_flight + 1, rate_window=admission.window, rate_count=count
        )


def opens_at(deps: Collaborators, admission: Admission, pools: dict[str, PoolState]) -> datetime | None:
    """When a pool of the admission that cannot take a task now opens by itself (a 429's block, the
    next minute of a full rate window); None when it opens when a slot is given back."""
    provider = pools.get(admission.provider)
    if provider is not None and provider.blocked_until is not None and provider.blocked_until > admission.at:
        return provider.blocked_until
    for limit in admission.limits:
        state = pools.get(limit.scope, PoolState())
        full = state.rate_window == admission.window and state.rate_count >= (limit.rate_per_minute or 0)
        if limit.rate_per_minute and full:
            return rate_window(deps, admission.at)[1]
    return None


def admit(deps: Collaborators, job: Job, task: Task, token: str) -> Task | None:
    """The task as it may be submitted now (holding its slot in fair mode), or None: its token is
    parked (held for a slot, or under its paused job) and the dispatcher hands it back later; the
    caller answers nothing."""
    if task.slot is not None or task.status != TaskStatus.PENDING:
        return task  # admitted before (a redelivery, or the dispatcher's hand-back)
    # A paused job submits nothing new, whatever the dispatch mode.
    if job.paused and deps.slots.park(job.job_id, task.index, token):
        deps.timeline.add(task_event(job.job_id, "task.parked", task.index))
        return None
    if deps.settings.dispatch_mode == "fifo" or not takes_slot(job, task):
        return task
    admission = admission_of(deps, job, task.index)
    pools = pools_of(deps, admission)
    # Queue discipline: while the pool has waiting tasks, the dispatcher alone orders them.
    if task.held_token is None and opens_at(deps, admission, pools) is None and not pools[job.provider].held:
        try:
            slot = deps.slots.admit(admission, pools)
            return task.model_copy(update={"slot": slot})
        except Refused as refused:
            if refused.what == "task":
                return task  # no longer waiting: the submission's own checks see why
    return None if _hold(deps, job, task, token, admission) else task


def _hold(deps: Collaborators, job: Job, task: Task, token: str, admission: Admission) -> bool:
    held = Held(job.job_id, task.index, job.user_id, admission.priority, admission.at)
    if not deps.slots.hold(held, job.provider, token):
        return False
    if task.held_token is None:
        deps.timeline.add(task_event(job.job_id, "task.held", task.index, pool=job.provider))
        metrics.add_metric(name="TasksHeld", unit="Count", value=1)
    # The pool may have freed up meanwhile: a pass now orders what waits (a lost nudge waits for
    # the dispatcher's scheduled pass).
    deps.dispatch_queue.nudge(pool=job.provider)
    return True
