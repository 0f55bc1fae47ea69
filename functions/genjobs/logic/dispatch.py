"""The dispatcher: releases held tasks into free slots, in a fair order (docs/design/dispatch.md).

For each pool with held tasks it picks the next by plan priority (plus one level for every
PRIORITY_AGING_SECONDS waited, up to the highest plan waiting, so a lower plan is never starved),
then the user with the fewest tasks in flight, then the longest waiting; admits it with the submitter's transaction
(logic.admission) and hands its parked token back to the SubmitQueue. It stops when the pool is
full, or when every waiting user is. Passes run on nudges (a slot given back, a task held, a job
resumed) and every minute; concurrent passes are safe, as every admission is conditional.

The scheduled pass also keeps parked tokens alive (their SubmitTask has a heartbeat: a task that
waits its turn must not time out), releases the parked tasks of jobs no longer paused, and recounts
the counters from the slots the tasks hold, so a crash between two steps never keeps a place taken.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from genjobs.logic.admission import admission_of, limits_of, opens_at, pools_of, taken
from genjobs.logic.plans import UserPlan, plan_of_account
from genjobs.logic.ports import Collaborators
from genjobs.logic.task_end import task_event
from genjobs.models.domain import Job
from genjobs.models.messages import SubmitTask
from genjobs.models.persistence import Held, Limit, PoolState, Refused
from genjobs.observability import logger, metrics


# ----------------------------------------------------------------------------- the order
def effective_priority(held: Held, waited_seconds: float, aging_seconds: int, top: int) -> int:
    """A held task's plan priority, one level higher for every `aging_seconds` it has waited, up to
    `top` (the highest plan waiting): a lower plan catches up with the higher ones and is never
    starved, while tasks at the same level are still ordered by their users' tasks in flight."""
    aged = held.priority + int(max(0.0, waited_seconds) // aging_seconds)
    return min(aged, max(top, held.priority))


def pick(
    waiting: Iterable[Held], in_flight: dict[str, int], waited: Callable[[Held], float], aging_seconds: int
) -> Held | None:
    """The task to admit next: highest effective priority, then its user's fewest in flight, then
    the longest waiting (then the job and index, so that concurrent passes agree)."""
    candidates = list(waiting)
    top = max((h.priority for h in candidates), default=0)
    return min(
        candidates,
        key=lambda h: (
            -effective_priority(h, waited(h), aging_seconds, top),
            in_flight.get(h.user_id, 0),
            h.since,
            h.job_id,
            h.index,
        ),
        default=None,
    )


# ----------------------------------------------------------------------------- a pool's pass
@dataclass
class _Pass:
    deps: Collaborators
    provider: str
    jobs: dict[str, Job | None] = field(default_factory=dict)
    plans: dict[str, UserPlan] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    full_users: set[str] = field(default_factory=set)
    full_scopes: set[str] = field(default_factory=set)
    # Each pool read once a pass, then counted on as the pass admits: its picture can only be
    # fuller than the truth (a slot given back meanwhile asks for a pass of its own), and every
    # admission's transaction holds the limits whatever happened since.
    pools: dict[str, PoolState] = field(default_factory=dict)
    admitted: int = 0

    def job(self, job_id: str) -> Job | None:
        if job_id not in self.jobs:
            self.jobs[job_id] = self.deps.jobs.get(job_id)
        return self.jobs[job_id]

    def waited(self, held: Held) -> float:
        return self.deps.clock.seconds_since(held.since)

    def run(self) -> int:
        waiting = self.deps.slots.held(self.provider)
        if self.deps.settings.dispatch_mode == "fifo":
            # Switched to fifo with tasks still held: they go to the submitter, which submits them.
            return sum(hand_back(self.deps, h.job_id, h.index, h.user_id) for h in waiting)
        for user in {h.user_id for h in waiting}:  # one read of each waiting user's account
            account = self.deps.credits.account(user)
            self.in_flight[user] = account.in_flight
            self.plans[user] = plan_of_account(self.deps, account)
        aging = self.deps.settings.priority_aging_seconds
        while True:
            candidates = [h for h in waiting if h.user_id not in self.full_users]
            chosen = pick(candidates, self.in_flight, self.waited, aging)
            if chosen is None:
                return self.admitted
            waiting.remove(chosen)
            if not self.release(chosen):
                return self.admitted

    def reread(self, user: str, limits: Iterable[Limit]) -> None:
        """Another pass admitted the task this one chose (or it ended): what this pass counted on
        is behind. Its user's tasks in flight and its pools are read again, so that the next choice
        is by the truth (two passes each admitting by its own first reading gave one user two
        places in a row while another user with nothing in flight waited)."""
        self.in_flight[user] = self.deps.credits.account(user).in_flight
        for limit in limits:
            self.pools.pop(limit.scope, None)
        self.pools.pop(self.provider, None)

    def release(self, held: Held) -> bool:
        """Tries the held task; False when its pool can take nothing more now."""
        deps, job = self.deps, self.job(held.job_id)
        if job is None or job.status.terminal:
            deps.slots.unhold(held.job_id, held.index)  # nothing waits on it any more
            return True
        job = job.for_task(held.index)
        if job.cancel_requested:
            # Handed back unadmitted: the submitter ends it CANCELLED, refunded, and answers it.
            hand_back(deps, held.job_id, held.index, held.user_id)
            return True
        if job.paused:
            token = deps.slots.unhold(held.job_id, held.index)
            if token is not None:
                deps.slots.park(held.job_id, held.index, token)
            return True
        # What is known full is skipped without a read (a pass looks at every held task of the
        # pool, and a full model of it must not cost one read per task waiting for it).
        if any(limit.scope in self.full_scopes for limit in limits_of(deps, job.provider, job.model)):
            return True
        plan = self.plans[held.user_id]
        if self.in_flight.get(held.user_id, 0) >= plan.limits.max_in_flight:
            self.full_users.add(held.user_id)
            return True
        in_flight = self.in_flight.get(held.user_id, 0)
        admission = admission_of(deps, job, held.index, held=held, plan=plan, in_flight=in_flight)
        pools = pools_of(deps, admission, self.pools)
        full = [
            limit.scope
            for limit in admission.limits
            if limit.concurrency is not None and pools[limit.scope].in_flight >= limit.concurrency
        ]
        if self.provider in full:
            return False  # the whole pool is full: the next slot given back asks for a pass
        if full:
            self.full_scopes.update(full)  # as read: no transaction that would be refused
            return True
        reserved = admission.takes_reserved(pools)
        if any(
            pools[lim.scope].in_flight >= (lim.places_for(reserved) or 0)
            for lim in admission.limits
            if lim.concurrency
        ):
            # Only the places kept for users with nothing in flight are left, and this user has
            # some: none of its tasks goes in this pass, a newcomer's may.
            self.full_users.add(held.user_id)
            return True
        opens = opens_at(deps, admission, pools)
        if opens is not None:  # blocked by a 429, or its rate window is full: come back then
            deps.dispatch_queue.nudge(
                pool=self.provider, delay_seconds=round(-deps.clock.seconds_since(opens)) + 1
            )
            return False
        parked = deps.slots.held_token(held.job_id, held.index)
        if parked is None:  # another pass took it
            self.reread(held.user_id, admission.limits)
            return True
        try:
            deps.slots.admit(admission, pools)
        except Refused as refused:
            if refused.what == "user":
                self.full_users.add(held.user_id)
            elif refused.what == self.provider:
                return False
            elif refused.what != "task":
                self.full_scopes.add(refused.what)
            else:
                self.reread(held.user_id, admission.limits)
            return True
        taken(self.pools, admission)
        task = SubmitTask(jobId=held.job_id, taskIndex=held.index, taskToken=parked[0])
        deps.submit_queue.send_task(task, held.user_id)
        self.in_flight[held.user_id] = self.in_flight.get(held.user_id, 0) + 1
        self.admitted += 1
        metrics.add_metric(name="TasksDispatched", unit="Count", value=1)
        # After the hand-back, so the submitter is not kept waiting for it: how long the task waited
        # for its place shows on its job's timeline next to its task.held.
        waited = round(self.waited(held), 3)
        deps.timeline.add(
            task_event(held.job_id, "task.admitted", held.index, pool=self.provider, waitedSeconds=waited)
        )
        return True


def hand_back(deps: Collaborators, job_id: str, index: int, user_id: str | None) -> bool:
    """Sends a parked task back to the submitter, which admits, holds or cancels it as it would a
    new arrival."""
    token = deps.slots.unhold(job_id, index)
    if token is None:
        return False
    deps.submit_queue.send_task(SubmitTask(jobId=job_id, taskIndex=index, taskToken=token), user_id)
    return True


def dispatch_pool(deps: Collaborators, provider: str) -> int:
    """One pass over a pool's held tasks: how many were admitted."""
    return _Pass(deps, provider).run()


def release_parked(deps: Collaborators, job_id: str) -> int:
    """The parked tasks of a job no longer paused (resumed, or cancelled) go back to the submitter."""
    job = deps.jobs.get(job_id)
    if job is not None and job.paused and not job.cancel_requested:
        return 0
    user = None if job is None else job.user_id
    return sum(hand_back(deps, job_id, index, user) for _, index in deps.slots.parked(job_id))


def on_nudges(deps: Collaborators, pools: set[str], jobs: set[str]) -> dict[str, int]:
    released = sum(release_parked(deps, job_id) for job_id in sorted(jobs))
    admitted = sum(dispatch_pool(deps, pool) for pool in sorted(pools))
    return {"released": released, "admitted": admitted}


# ----------------------------------------------------------------------------- the scheduled pass
def scheduled(deps: Collaborators) -> dict[str, int]:
    """The backstop: parked tasks of jobs no longer paused, counters recounted, every pool's pass,
    parked tokens kept alive."""
    providers = sorted(deps.catalog.providers)
    released = sum(release_parked(deps, job_id) for job_id in sorted({j for j, _ in deps.slots.parked()}))
    repaired = recount(deps, providers)
    admitted = sum(dispatch_pool(deps, provider) for provider in providers)
    kept = keep_alive(deps, providers)
    return {"released": released, "repaired": repaired, "admitted": admitted, "keptAlive": kept}


def keep_alive(deps: Collaborators, providers: list[str]) -> int:
    """Heartbeats the parked tokens not kept alive for half their heartbeat interval; a token
    nothing waits on any more (its wait ended meanwhile) is taken off its task."""
    half = deps.settings.heartbeat_seconds / 2
    parked = [
        (h.job_id, h.index)
        for p in providers
        for h in deps.slots.held(p)
        if deps.clock.seconds_since(h.since) >= half
    ]
    parked += deps.slots.parked()
    kept = 0
    for job_id, index in parked:
        found = deps.slots.held_token(job_id, index)
        if found is None:
            continue
        token, beat = found
        if beat is not None and deps.clock.seconds_since(beat) < half:
            continue
        if deps.workflow.heartbeat(token):
            deps.slots.beat(job_id, index, deps.clock.now())
            kept += 1
        else:
            logger.warning("a parked token no longer waits", extra={"jobId": job_id, "taskIndex": index})
            deps.slots.unhold(job_id, index)
    return kept


def recount(deps: Collaborators, providers: list[str]) -> int:
    """Sets each limited pool's counter, and each waiting user's, to the slots its tasks hold now,
    and each provider's count of held tasks to the tasks held in its pool, where they differ. Each
    counter is read first and set only if nothing moved it while counting (its revision; the held
    count itself)."""
    counters = [("pool", scope) for p in providers for scope in sorted(_scopes_of(deps, p))]
    counters += [
        ("user", user) for user in sorted({h.user_id for p in providers for h in deps.slots.held(p)})
    ]
    observed = {counter: deps.slots.counter(counter) for counter in counters}
    counted: Counter[tuple[str, str]] = Counter()
    live: dict[str, bool] = {}
    for provider in providers:
        for slot, job_id in deps.slots.slots_of(provider):
            if job_id not in live:
                job = deps.jobs.get(job_id)
                live[job_id] = job is not None and not job.status.terminal
            if live[job_id]:
                counted[("user", slot.user)] += 1
                counted.update(("pool", scope) for scope in slot.scopes)
    repaired = sum(deps.slots.recount_held(provider) for provider in providers)
    for counter, (seen, revision) in observed.items():
        if counted[counter] != seen and deps.slots.repair(counter, revision, counted[counter]):
            logger.warning(
                "counter repaired", extra={"counter": counter, "was": seen, "now": counted[counter]}
            )
            repaired += 1
    return repaired


def _scopes_of(deps: Collaborators, provider: str) -> set[str]:
    """The limited scopes of a provider: itself, and those of its models."""
    return {
        limit.scope
        for model in deps.catalog.providers[provider].models
        for limit in limits_of(deps, provider, model)
    }
