"""In-memory stand-ins of every port of the domain logic (genjobs.logic.ports), for unit tests.

They keep the promises the DynamoDB repositories keep: a conditional write whose condition does not
hold returns False (or None) and changes nothing; a transition moves the task, the job's counts, the
credits and the ledger together or not at all; each ledger entry is written once. `World` holds the
state they share, as the one table does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from genjobs.dal.credits import grant_entry, job_entry, task_entry
from genjobs.dal.jobs import finished
from genjobs.dal.tasks import TaskRepository
from genjobs.deps import Deps
from genjobs.models.domain import (
    Attempt,
    CreditAccount,
    Device,
    Job,
    JobFilter,
    JobStatus,
    LedgerEntry,
    LedgerKind,
    Operation,
    Task,
    TaskStatus,
    TimelineEvent,
    retry_tag,
    utcnow,
)
from genjobs.models.messages import AppFunctionResult, BulkPage, JobEvent, SubmitTask, TaskEnded
from genjobs.models.persistence import (
    Accepted,
    AppFunctionFailed,
    EndpointGone,
    InsufficientCredits,
    JobAlreadyExists,
    JobQuery,
    JobRetry,
    Page,
    QueueUnavailable,
    TaskMove,
)
from genjobs.providers import base
from genjobs.settings import Settings

ACTIVE = {JobStatus.PENDING, JobStatus.PROCESSING}
NOT_STARTED, CANCELS = "not-started", "cancels"


@dataclass
class World:
    jobs: dict[str, Job] = field(default_factory=dict)
    tasks: dict[tuple[str, int], Task] = field(default_factory=dict)
    accounts: dict[str, CreditAccount] = field(default_factory=dict)
    ledger: dict[tuple[str, str], LedgerEntry] = field(default_factory=dict)
    events: list[TimelineEvent] = field(default_factory=list)
    # The sweeper's marks: a job's (kind, since), a webhook task's due time.
    job_marks: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    task_due: dict[tuple[str, int], datetime] = field(default_factory=dict)

    def account(self, user_id: str) -> CreditAccount:
        return self.accounts.get(user_id) or CreditAccount(userId=user_id)

    def kinds(self, job_id: str) -> list[str]:
        """The kinds of the job's timeline events, in order."""
        return [e.kind for e in self.events if e.job_id == job_id]

    def move_credits(self, entry: LedgerEntry, **changes: int) -> bool:
        """Applies a ledger entry once, like the account Update + entry Put of one transaction."""
        if (entry.user_id, entry.entry_id) in self.ledger:
            return False
        account = self.account(entry.user_id)
        values = {name: getattr(account, name) + delta for name, delta in changes.items()}
        if any(v < 0 for name, v in values.items() if name in {"available", "reserved"}):
            return False
        self.accounts[entry.user_id] = account.model_copy(update=values)
        self.ledger[(entry.user_id, entry.entry_id)] = entry
        return True

    def can_move(self, user_id: str, entry_id: str, reserved: int) -> bool:
        return (user_id, entry_id) not in self.ledger and self.account(user_id).reserved >= reserved


def _offset(start: dict[str, Any] | None) -> int:
    return int(start["offset"]) if start else 0


def _paged(items: list[Any], limit: int, start: dict[str, Any] | None) -> Page[Any]:
    first = _offset(start)
    end = first + limit
    return Page(items[first:end], {"offset": end} if end < len(items) else None)


def _shown_in(job: Job, statuses: frozenset[JobStatus], paused: bool) -> bool:
    if job.shown_status == "PAUSED":
        return paused
    return job.status in statuses


class FakeJobs:
    def __init__(self, world: World) -> None:
        self.w = world
        self.reads = 0

    def create(self, job: Job, event: TimelineEvent) -> None:
        if job.job_id in self.w.jobs:
            raise JobAlreadyExists(job.job_id)
        amount = job.credits.reserved
        entry = job_entry(job, LedgerKind.RESERVE, amount)
        available = self.w.account(job.user_id).available
        if available < amount or not self.w.move_credits(entry, available=-amount, reserved=amount):
            raise InsufficientCredits(amount, available)
        self.w.jobs[job.job_id] = job
        self.w.job_marks[job.job_id] = (NOT_STARTED, job.created_at)
        self.w.events.append(event)

    def get(self, job_id: str) -> Job | None:
        self.reads += 1
        return self.w.jobs.get(job_id)

    def of_user(self, user_id: str, query: JobQuery) -> Page[Job]:
        statuses, collection_id = query.statuses, query.collection_id
        jobs = sorted(
            (
                j
                for j in self.w.jobs.values()
                if j.user_id == user_id
                and (not (statuses or query.paused) or _shown_in(j, statuses or frozenset(), query.paused))
                and (collection_id is None or j.collection_id == collection_id)
            ),
            key=lambda j: (j.created_at, j.job_id),
            reverse=True,
        )
        return _paged(jobs, query.limit, query.start)

    def _update(self, job_id: str, **changes: Any) -> Job:
        job = self.w.jobs[job_id].model_copy(update=changes)
        self.w.jobs[job_id] = job
        return job

    def mark_started(self, job_id: str) -> Job | None:
        job = self.w.jobs.get(job_id)
        if job is None:
            return None
        self.w.job_marks.pop(job_id, None)
        now = utcnow()
        if job.status == JobStatus.PENDING:
            return self._update(
                job_id, status=JobStatus.PROCESSING, started_at=now, updated_at=now, prepared=True
            )
        return self._update(job_id, prepared=True, updated_at=now)

    def request_cancel(self, job: Job, event: TimelineEvent) -> Job | None:
        stored = self.w.jobs.get(job.job_id)
        if stored is None or stored.status not in ACTIVE:
            return None
        now = utcnow()
        changes = {"status": JobStatus.CANCELLING, "cancel_requested_at": now, "updated_at": now}
        self._update(job.job_id, **changes)
        self.w.job_marks.setdefault(job.job_id, (CANCELS, now))
        self.w.events.append(event)
        return job.model_copy(update=changes)

    def cancelling(self, limit: int = 100) -> list[str]:
        return [j for j, (kind, _) in self.w.job_marks.items() if kind == CANCELS][:limit]

    def clear_cancel_mark(self, job_id: str) -> None:
        if self.w.job_marks.get(job_id, ("", None))[0] == CANCELS:
            del self.w.job_marks[job_id]

    def not_started(self, older_than: datetime, limit: int = 100) -> list[str]:
        return [j for j, (kind, at) in self.w.job_marks.items() if kind == NOT_STARTED and at <= older_than][
            :limit
        ]

    def finish(
        self, job: Job, status: JobStatus, release: int, event: TimelineEvent, *, unstarted_as: TaskStatus
    ) -> Job | None:
        stored = self.w.jobs.get(job.job_id)
        if stored is None or stored.status.terminal:
            return None
        entry = job_entry(job, LedgerKind.RELEASE, release, what="SETTLE")
        if release and not self.w.can_move(job.user_id, entry.entry_id, release):
            return None
        if release:
            self.w.move_credits(entry, reserved=-release, available=release)
        unstarted, now = job.counts.pending, utcnow()
        moved = {
            "pending": stored.counts.pending - unstarted,
            unstarted_as.value.lower(): stored.counts.get(unstarted_as) + unstarted,
        }
        self._update(
            job.job_id,
            status=status,
            finished_at=now,
            updated_at=now,
            counts=stored.counts.model_copy(update=moved),
            credits=stored.credits.model_copy(update={"refunded": stored.credits.refunded + release}),
        )
        self.w.job_marks.pop(job.job_id, None)
        self.w.events.append(event)
        return finished(job, status, release, unstarted_as, now)

    def resolve_step_size(self, job: Job, step: int, size: int, event: TimelineEvent) -> bool:
        stored = self.w.jobs[job.job_id]
        states = list(stored.step_states)
        if states[step].size is not None:
            return False
        unused = stored.steps[step].slots - size
        states[step] = states[step].model_copy(update={"size": size})
        counts = stored.counts.model_copy(update={"pending": stored.counts.pending - unused})
        credits = stored.credits.model_copy(
            update={"refunded": stored.credits.refunded + unused * stored.steps[step].price}
        )
        self.w.jobs[job.job_id] = stored.model_copy(
            update={
                "step_states": states,
                "task_count": stored.task_count - unused,
                "counts": counts,
                "credits": credits,
            }
        )
        self.w.events.append(event)
        return True

    def mark_event_published(self, job_id: str) -> bool:
        job = self.w.jobs.get(job_id)
        if job is None or job.event_published_at is not None:
            return False
        self._update(job_id, event_published_at=utcnow())
        return True


class FakeTasks:
    def __init__(self, world: World) -> None:
        self.w = world

    key_after = staticmethod(TaskRepository.key_after)
    first_index = staticmethod(TaskRepository.first_index)

    def put_many(self, tasks: list[Task]) -> None:
        for task in tasks:
            self.w.tasks[(task.job_id, task.index)] = task

    def get(self, job_id: str, index: int) -> Task | None:
        return self.w.tasks.get((job_id, index))

    def _of(self, job_id: str) -> list[Task]:
        return sorted((t for (j, _), t in self.w.tasks.items() if j == job_id), key=lambda t: t.index)

    def page(
        self, job_id: str, *, limit: int, start: dict[str, Any] | None, within: tuple[int, int] | None = None
    ) -> Page[Task]:
        first = self.first_index(job_id, start)
        low, high = within or (0, 10**9)
        tasks = [t for t in self._of(job_id) if low <= t.index <= high]
        items = [t for t in tasks if t.index >= first][:limit]
        more = items and any(t.index > items[-1].index for t in tasks)
        return Page(items, self.key_after(job_id, items[-1].index) if more else None)

    def of_job(self, job_id: str) -> Iterator[Task]:
        yield from self._of(job_id)

    def in_status(self, job_id: str, status: TaskStatus) -> Iterator[Task]:
        yield from (t for t in self._of(job_id) if t.status == status)

    def webhooks_overdue(
        self, now: datetime, limit: int = 200, wanted: Callable[[datetime], bool] | None = None
    ) -> list[tuple[str, int]]:
        due_by_now = [
            (key, due) for key, due in sorted(self.w.task_due.items(), key=lambda kv: kv[1]) if due <= now
        ]
        return [key for key, due in due_by_now if wanted is None or wanted(due)][:limit]

    def mark_submitted(
        self, job: Job, index: int, accepted: Accepted, event: TimelineEvent, attempts: int = 1
    ) -> bool:
        fields: dict[str, Any] = {
            "providerId": accepted.provider_id,
            "submittedAt": accepted.at.isoformat(),
            "submitAttempts": attempts,
        }
        if accepted.token is not None:
            fields["taskToken"] = accepted.token
        moved = self._move(job, index, TaskMove(TaskStatus.PENDING, TaskStatus.PROCESSING, fields), event)
        if moved and accepted.webhook_due is not None:
            self.w.task_due[(job.job_id, index)] = accepted.webhook_due
        return moved

    def end(self, job: Job, index: int, move: TaskMove, event: TimelineEvent) -> bool:
        assert move.to_status.terminal, move.to_status
        return self._move(job, index, move, event)

    def _move(self, job: Job, index: int, move: TaskMove, event: TimelineEvent) -> bool:
        was, to = move.from_status, move.to_status
        task = self.w.tasks.get((job.job_id, index))
        if task is None or task.status != was:
            return False
        price = job.price_of(index)
        kind = LedgerKind.CHARGE if to == TaskStatus.COMPLETED else LedgerKind.RELEASE
        entry = task_entry(job, index, kind, move.attempt)
        if to.terminal and not self.w.can_move(job.user_id, entry.entry_id, price):
            return False
        now = utcnow()
        data = {**task.model_dump(by_alias=True), **move.fields, "status": to, "updatedAt": now}
        if to.terminal:
            data.update(finishedAt=now, taskToken=None)
            self.w.task_due.pop((job.job_id, index), None)
            self.w.move_credits(
                entry, reserved=-price, **{"charged" if kind == LedgerKind.CHARGE else "available": price}
            )
        self.w.tasks[(job.job_id, index)] = Task.model_validate(data)
        stored = self.w.jobs[job.job_id]
        counts = {was.value.lower(): stored.counts.get(was) - 1, to.value.lower(): stored.counts.get(to) + 1}
        credits = stored.credits
        if to == TaskStatus.COMPLETED:
            credits = credits.model_copy(update={"charged": credits.charged + price})
        elif to.terminal:
            credits = credits.model_copy(update={"refunded": credits.refunded + price})
        self.w.jobs[job.job_id] = stored.model_copy(
            update={"counts": stored.counts.model_copy(update=counts), "credits": credits, "updated_at": now}
        )
        self.w.events.append(event)
        return True

    def retry(self, job: Job, retry: JobRetry, event: TimelineEvent) -> bool:
        stored = self.w.jobs.get(job.job_id)
        if stored is None or not stored.status.terminal or stored.retries != retry.number - 1:
            return False
        entry = job_entry(job, LedgerKind.RESERVE, retry.amount, what=retry_tag(retry.number))
        available = self.w.account(job.user_id).available
        if available < retry.amount or not self.w.move_credits(
            entry, available=-retry.amount, reserved=retry.amount
        ):
            raise InsufficientCredits(retry.amount, available)
        counts = stored.counts.model_copy()
        for task in retry.tasks:
            ended = Attempt(
                attempt=task.attempt, status=task.status, error=task.error, providerId=task.provider_id
            )
            setattr(counts, task.status.value.lower(), counts.get(task.status) - 1)
            counts.pending += 1
            self.w.tasks[(job.job_id, task.index)] = task.model_copy(
                update={
                    "status": TaskStatus.PENDING,
                    "attempt": task.attempt + 1,
                    "attempts": [*task.attempts, ended],
                    "error": None,
                    "provider_id": None,
                    "outputs": [],
                    "finished_at": None,
                    "planned_at": None if task.index in retry.replan else task.planned_at,
                }
            )
        credits = stored.credits.model_copy(update={"reserved": stored.credits.reserved + retry.amount})
        self.w.jobs[job.job_id] = stored.model_copy(
            update={
                "status": JobStatus.PROCESSING,
                "retries": retry.number,
                "counts": counts,
                "credits": credits,
                "finished_at": None,
                "cancel_requested_at": None,
                "event_published_at": None,
            }
        )
        self.w.events.append(event)
        return True

    def _processing(self, job_id: str, index: int, **changes: Any) -> bool:
        task = self.w.tasks.get((job_id, index))
        if task is None or task.status != TaskStatus.PROCESSING:
            return False
        self.w.tasks[(job_id, index)] = task.model_copy(update={**changes, "updated_at": utcnow()})
        return True

    def claim(self, job_id: str, index: int, task_input: dict[str, Any]) -> bool:
        task = self.w.tasks.get((job_id, index))
        if task is None or task.status != TaskStatus.PENDING or task.planned_at is not None:
            return False
        self.w.tasks[(job_id, index)] = task.model_copy(update={"input": task_input, "planned_at": utcnow()})
        return True

    def record_signal(self, job_id: str, index: int, signal: dict[str, Any]) -> bool:
        task = self.w.tasks.get((job_id, index))
        if task is None or task.status.terminal or task.signal is not None:
            return False
        self.w.tasks[(job_id, index)] = task.model_copy(update={"signal": signal})
        return True

    def count_submit_attempt(self, job_id: str, index: int) -> None:
        task = self.w.tasks.get((job_id, index))
        if task is not None:
            self.w.tasks[(job_id, index)] = task.model_copy(
                update={"submit_attempts": task.submit_attempts + 1}
            )

    def attach_token(self, job_id: str, index: int, token: str) -> bool:
        return self._processing(job_id, index, task_token=token)

    def record_running(self, task: Task, progress: float | None) -> bool:
        changes: dict[str, Any] = {}
        if progress is not None and progress > (task.progress or 0.0):
            changes["progress"] = progress
        if task.poll_errors:
            changes["poll_errors"] = 0
        if not changes:
            return False
        stored = self.w.tasks.get((task.job_id, task.index))
        changes["poll_count"] = (stored.poll_count if stored else 0) + 1
        return self._processing(task.job_id, task.index, **changes)

    def record_poll_error(self, job_id: str, index: int) -> bool:
        task = self.w.tasks.get((job_id, index))
        if task is None:
            return False
        return self._processing(
            job_id, index, poll_errors=task.poll_errors + 1, poll_count=task.poll_count + 1
        )

    def sweep_again_at(self, job_id: str, index: int, at: datetime) -> bool:
        task = self.w.tasks.get((job_id, index))
        if task is None or not self._processing(job_id, index, sweeps=task.sweeps + 1):
            return False
        if (job_id, index) in self.w.task_due:
            self.w.task_due[(job_id, index)] = at
        return True

    def claim_provider_cancel(self, job_id: str, index: int) -> bool:
        task = self.w.tasks.get((job_id, index))
        if task is None or task.provider_cancelled_at is not None:
            return False
        self.w.tasks[(job_id, index)] = task.model_copy(update={"provider_cancelled_at": utcnow()})
        return True

    def release_provider_cancel(self, job_id: str, index: int) -> None:
        task = self.w.tasks[(job_id, index)]
        self.w.tasks[(job_id, index)] = task.model_copy(update={"provider_cancelled_at": None})


class FakeCredits:
    def __init__(self, world: World) -> None:
        self.w = world

    def account(self, user_id: str) -> CreditAccount:
        return self.w.account(user_id)

    def grant(self, user_id: str, amount: int, grant_id: str, reason: str | None) -> bool:
        entry = grant_entry(user_id, grant_id, amount, reason)
        return self.w.move_credits(entry, granted=amount, available=amount)

    def set_plan(self, user_id: str, plan: str | None) -> None:
        self.w.accounts[user_id] = self.w.account(user_id).model_copy(update={"plan": plan})

    def ledger(self, user_id: str, limit: int = 100) -> list[LedgerEntry]:
        return [e for (u, _), e in sorted(self.w.ledger.items()) if u == user_id][:limit]


class Claims(set[tuple[str, str]]):
    """Keys claimed once until released, as a conditional Put and its Delete claim them."""

    def claim(self, key: tuple[str, str]) -> bool:
        if key in self:
            return False
        self.add(key)
        return True


class FakeDevices:
    def __init__(self) -> None:
        self.devices: dict[tuple[str, str], Device] = {}
        self.owners: dict[str, Device] = {}
        self.pushes = Claims()

    def get(self, user_id: str, device_id: str) -> Device | None:
        return self.devices.get((user_id, device_id))

    def of_user(self, user_id: str) -> list[Device]:
        return [d for (u, _), d in sorted(self.devices.items()) if u == user_id]

    def endpoint_owner(self, endpoint_arn: str) -> Device | None:
        return self.owners.get(endpoint_arn)

    def hand_over(self, device: Device, previous: Device | None) -> bool:
        holder = self.owners.get(device.endpoint_arn)

        def ids(d):
            return None if d is None else (d.user_id, d.device_id)

        if ids(holder) != ids(previous):
            return False
        self.devices[(device.user_id, device.device_id)] = device
        self.owners[device.endpoint_arn] = device
        if previous is not None and ids(previous) != ids(device):
            self.devices.pop((previous.user_id, previous.device_id), None)
        return True

    def forget(self, device: Device) -> None:
        self.devices.pop((device.user_id, device.device_id), None)
        holder = self.owners.get(device.endpoint_arn)
        if holder is not None and (holder.user_id, holder.device_id) == (device.user_id, device.device_id):
            del self.owners[device.endpoint_arn]

    def claim_push(self, job_id: str, device_id: str) -> bool:
        return self.pushes.claim((job_id, device_id))

    def release_push(self, job_id: str, device_id: str) -> None:
        self.pushes.discard((job_id, device_id))


class FakeTimeline:
    def __init__(self, world: World) -> None:
        self.w = world

    def add(self, event: TimelineEvent) -> None:
        self.w.events.append(event)

    def add_many(self, events: list[TimelineEvent]) -> None:
        self.w.events.extend(events)

    def page(self, job_id: str, *, limit: int, start: dict[str, Any] | None) -> Page[TimelineEvent]:
        return _paged([e for e in self.w.events if e.job_id == job_id], limit, start)


class FakeStorage:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put_json(self, key: str, value: Any) -> None:
        import json

        self.objects[key] = (json.dumps(value).encode(), "application/json")

    def get_json(self, key: str) -> Any:
        import json

        return json.loads(self.objects[key][0])

    def put_stream(self, key: str, stream: IO[bytes], content_type: str) -> int:
        body = stream.read()
        self.objects[key] = (body, content_type)
        return len(body)

    def head(self, key: str) -> dict[str, Any] | None:
        if key not in self.objects:
            return None
        return {"ContentLength": len(self.objects[key][0]), "ContentType": self.objects[key][1]}

    def presign(self, key: str, ttl_seconds: int) -> str:
        return f"https://outputs.example/{key}?expires={ttl_seconds}"


class FakeWorkflow:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.answers: dict[str, list[Any]] = {}
        self.heartbeats: list[str] = []
        self.gone: set[str] = set()  # tokens that no longer wait
        self.start_fails = False

    def start(self, job_id: str, run: int = 0) -> bool:
        if self.start_fails:
            raise RuntimeError("StartExecution failed")
        name = f"{job_id}-r{run}" if run else job_id
        if name in self.started:
            return False
        self.started.append(name)
        return True

    def _answer(self, token: str, answer: Any) -> bool:
        if token in self.gone:
            return False
        self.answers.setdefault(token, []).append(answer)
        return True

    def succeed(self, token: str, answer: TaskEnded) -> bool:
        return self._answer(token, answer.to_wire())

    def heartbeat(self, token: str) -> bool:
        self.heartbeats.append(token)
        return token not in self.gone

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._answer(token, {"error": error, "cause": cause})


class FakeSubmitQueue:
    def __init__(self) -> None:
        self.cancels: list[str] = []
        self.retries: list[tuple[str, int]] = []
        self.sent: list[SubmitTask] = []
        self.groups: list[str | None] = []  # each message's user (its message group)
        self.unreachable = False

    def cancel_in_flight(self, job_id: str, user_id: str) -> None:
        if self.unreachable:
            raise QueueUnavailable("Could not connect to the endpoint URL")
        self.cancels.append(job_id)
        self.groups.append(user_id)

    def send_task(self, message: SubmitTask, user_id: str | None) -> None:
        self.sent.append(message)
        self.groups.append(user_id)

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        self.retries.append((receipt_handle, delay_seconds))


class FakeOperations:
    """Operations in memory; the filter is applied as the Scan's expression would apply it."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.operations: dict[str, Operation] = {}
        self.claims = Claims()

    def create(self, operation: Operation) -> None:
        self.operations[operation.operation_id] = operation

    def get(self, operation_id: str) -> Operation | None:
        return self.operations.get(operation_id)

    def _matches(self, job: Job, f: JobFilter) -> bool:
        return (
            (not f.status or job.status in f.status)
            and f.provider in (None, job.provider)
            and f.model in (None, job.model)
            and (f.created_from is None or job.created_at >= f.created_from)
            and (f.created_to is None or job.created_at < f.created_to)
        )

    def matching_jobs(self, job_filter: JobFilter, start: dict[str, Any] | None, scanned: int) -> Page[Job]:
        ids = sorted(self.w.jobs)
        first = ids.index(start["pk"]) + 1 if start else 0
        window = ids[first : first + scanned]
        last = {"pk": window[-1], "sk": "JOB"} if first + scanned < len(ids) else None
        return Page([self.w.jobs[i] for i in window if self._matches(self.w.jobs[i], job_filter)], last)

    def count_jobs(self, job_filter: JobFilter) -> int:
        return sum(self._matches(j, job_filter) for j in self.w.jobs.values())

    def claim(self, operation_id: str, what: str) -> bool:
        return self.claims.claim((operation_id, what))

    def count(self, operation_id: str, outcome: str) -> None:
        operation = self.operations[operation_id]
        self.operations[operation_id] = operation.model_copy(
            update={outcome: getattr(operation, outcome) + 1}
        )

    def finish(self, operation_id: str) -> None:
        operation = self.operations[operation_id]
        self.operations[operation_id] = operation.model_copy(
            update={"status": "DONE", "finished_at": utcnow()}
        )


class FakeBulkQueue:
    def __init__(self) -> None:
        self.sent: list[BulkPage] = []

    def send_page(self, page: BulkPage) -> None:
        self.sent.append(page)


class FakePauses:
    def __init__(self, world: World) -> None:
        self.w = world
        self.marked: dict[str, datetime] = {}

    def pause(self, job: Job, event: TimelineEvent) -> Job | None:
        current = self.w.jobs.get(job.job_id)
        if current is None or current.paused or current.status not in ACTIVE:
            return None
        paused = current.model_copy(update={"paused_at": event.at, "updated_at": event.at})
        self.w.jobs[job.job_id] = paused
        self.marked[job.job_id] = event.at
        self.w.events.append(event)
        return paused

    def resume(self, job: Job, event: TimelineEvent) -> Job | None:
        current = self.w.jobs.get(job.job_id)
        if current is None or not current.paused:
            return None
        resumed = current.model_copy(update={"paused_at": None, "updated_at": event.at})
        self.w.jobs[job.job_id] = resumed
        self.marked.pop(job.job_id, None)
        self.w.events.append(event)
        return resumed

    def clear(self, job_id: str, at: datetime) -> None:
        self.marked.pop(job_id, None)

    def paused_since(self, before: datetime, limit: int = 100) -> list[str]:
        return [job_id for job_id, at in sorted(self.marked.items()) if at <= before][:limit]


class FakeDispatchQueue:
    def __init__(self) -> None:
        self.nudges: list[tuple[str | None, str | None, int]] = []

    def nudge(self, pool: str | None = None, job_id: str | None = None, delay_seconds: int = 0) -> None:
        self.nudges.append((pool, job_id, delay_seconds))


class FakeNotifications:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.endpoints: dict[str, str] = {}  # token -> endpoint arn
        self.holders: dict[str, str] = {}  # endpoint arn -> user
        self.pushed: list[str] = []
        self.gone: set[str] = set()
        self.deleted: list[str] = []

    def publish_job_event(self, event: JobEvent) -> str:
        self.published.append((event.type, event.to_wire()))
        return f"m-{len(self.published)}"

    def claim_endpoint(self, platform_application_arn: str, token: str, user_id: str) -> str:
        arn = self.endpoints.setdefault(token, f"arn:aws:sns:us-east-1:1:endpoint/{len(self.endpoints)}")
        self.holders[arn] = user_id
        return arn

    def delete_endpoint(self, endpoint_arn: str) -> None:
        self.deleted.append(endpoint_arn)

    def push(self, endpoint_arn: str, message: dict[str, str]) -> str:
        if endpoint_arn in self.gone:
            raise EndpointGone(endpoint_arn)
        self.pushed.append(endpoint_arn)
        return f"p-{len(self.pushed)}"


class FakeAppFunctions:
    """App functions by ARN: each a Python callable on the payload, answering as the function would
    (an AppFunctionResult's fields) or raising the port's errors."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, arn: str, payload: dict[str, Any]) -> AppFunctionResult:
        self.calls.append((arn, payload))
        if arn not in self.functions:
            raise AppFunctionFailed("ResourceNotFoundException", f"Function not found: {arn}")
        return AppFunctionResult.model_validate(self.functions[arn](payload))


@dataclass
class FakeProvider:
    """A provider adapter whose answers each test scripts."""

    name: str = "simulator"
    supports_webhooks: bool = True
    submit_error: base.ProviderError | None = None
    submit_status: base.ProviderStatus | None = None
    status_of: base.ProviderStatus | base.ProviderError | None = None
    cancel_outcome: base.CancelOutcome = base.CancelOutcome.REQUESTED
    delivery: base.WebhookDelivery | base.WebhookRejected | None = None
    submitted: list[base.SubmitRequest] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    polled: list[str] = field(default_factory=list)
    run_of: base.ProviderStatus | base.ProviderError | None = None
    ran: list[tuple[base.SubmitRequest, float]] = field(default_factory=list)

    def submit(self, req: base.SubmitRequest) -> base.Submission:
        self.submitted.append(req)
        if self.submit_error is not None:
            raise self.submit_error
        return base.Submission(provider_id=f"p-{req.idempotency_key}", status=self.submit_status)

    def run(self, request: base.SubmitRequest, timeout_seconds: float) -> base.ProviderStatus:
        """Answers `run_of` (raised when an error); by default a success with one text output."""
        self.ran.append((request, timeout_seconds))
        if isinstance(self.run_of, base.ProviderError):
            raise self.run_of
        return self.run_of or base.ProviderStatus(
            provider_id=f"p-{request.idempotency_key}",
            state=base.TaskState.SUCCEEDED,
            outputs=["data:text/plain;charset=utf-8,done"],
            raw_status="succeeded",
        )

    def status(self, provider_id: str) -> base.ProviderStatus:
        self.polled.append(provider_id)
        if isinstance(self.status_of, base.ProviderError):
            raise self.status_of
        return self.status_of or base.ProviderStatus(
            provider_id=provider_id, state=base.TaskState.RUNNING, raw_status="running"
        )

    def cancel(self, provider_id: str) -> base.CancelOutcome:
        self.cancelled.append(provider_id)
        return self.cancel_outcome

    def verify_webhook(self, headers: Any, body: bytes, now: float | None = None) -> base.WebhookDelivery:
        if isinstance(self.delivery, base.WebhookRejected):
            raise self.delivery
        assert self.delivery is not None, "no webhook scripted"
        return self.delivery


SETTINGS = {
    "STAGE": "unit",
    "TABLE_NAME": "jobs",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "OUTPUT_BUCKET": "outputs",
    "SUBMIT_QUEUE_URL": "https://sqs.example/submit",
    "JOB_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:1:events",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:gen",
    "SIMULATOR_BASE_URL": "http://simulator.example",
    "PUBLIC_BASE_URL": "https://api.example",
    "FCM_PLATFORM_APPLICATION_ARN": "arn:aws:sns:us-east-1:1:app/GCM/genjobs",
    "MAX_CONSECUTIVE_POLL_ERRORS": 3,
    # Fair dispatch's slots live in DynamoDB (tests/integration, tests/e2e): here tasks go in queue order.
    "DISPATCH_MODE": "fifo",
}


class FakeDeps(Deps):
    """A Deps whose every collaborator is in memory (the catalog is the real one)."""

    world: World
    jobs: FakeJobs  # type: ignore[assignment]
    tasks: FakeTasks  # type: ignore[assignment]
    credits: FakeCredits  # type: ignore[assignment]
    devices: FakeDevices  # type: ignore[assignment]
    timeline: FakeTimeline  # type: ignore[assignment]
    storage: FakeStorage  # type: ignore[assignment]
    workflow: FakeWorkflow  # type: ignore[assignment]
    submit_queue: FakeSubmitQueue  # type: ignore[assignment]
    run_queue: FakeSubmitQueue  # type: ignore[assignment]
    dispatch_queue: FakeDispatchQueue  # type: ignore[assignment]
    pauses: FakePauses  # type: ignore[assignment]
    notifications: FakeNotifications  # type: ignore[assignment]
    app_functions: FakeAppFunctions  # type: ignore[assignment]
    operations: FakeOperations  # type: ignore[assignment]
    bulk_queue: FakeBulkQueue  # type: ignore[assignment]


def fake_deps(**settings: Any) -> FakeDeps:
    d = FakeDeps(settings=Settings.model_validate({**SETTINGS, **settings}))
    world = World()
    d.__dict__.update(
        world=world,
        jobs=FakeJobs(world),
        tasks=FakeTasks(world),
        credits=FakeCredits(world),
        operations=FakeOperations(world),
        bulk_queue=FakeBulkQueue(),
        devices=FakeDevices(),
        timeline=FakeTimeline(world),
        storage=FakeStorage(),
        workflow=FakeWorkflow(),
        submit_queue=FakeSubmitQueue(),
        run_queue=FakeSubmitQueue(),
        dispatch_queue=FakeDispatchQueue(),
        pauses=FakePauses(world),
        notifications=FakeNotifications(),
        app_functions=FakeAppFunctions(),
        cursor_key=b"k" * 32,
    )
    return d


def data_uri(text: str = "hello") -> str:
    import base64

    return "data:text/plain;base64," + base64.b64encode(text.encode()).decode()
