"""What the domain logic needs of storage and of the AWS services, by intent, and the one object
that hands it all of them (`Collaborators`).

`genjobs.deps.Deps` provides the boto3 implementations (genjobs.dal); unit tests provide in-memory
ones (tests/unit/fakes.py). Key shapes, index names and AWS error codes stay behind these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Protocol

from genjobs.models.domain import (
    CreditAccount,
    Device,
    Job,
    JobFilter,
    JobStatus,
    LedgerEntry,
    Operation,
    Task,
    TaskSlot,
    TaskStatus,
    TimelineEvent,
)
from genjobs.models.messages import AppFunctionResult, BulkPage, JobEvent, SubmitTask, TaskEnded
from genjobs.models.persistence import (
    Accepted,
    Admission,
    Held,
    JobQuery,
    JobRetry,
    Page,
    PoolState,
    TaskMove,
)

if TYPE_CHECKING:
    # Types only: the catalog's models are loaded by the functions that plan or run tasks, not by all.
    from genjobs.catalog import Catalog
    from genjobs.checkpoints import Checkpoints
    from genjobs.clock import Clock
    from genjobs.settings import Settings

__all__ = [
    "Accepted",
    "AppFunctions",
    "Collaborators",
    "Credits",
    "Devices",
    "DispatchQueuePort",
    "JobQuery",
    "Jobs",
    "NotificationsPort",
    "ObjectStore",
    "Page",
    "Pauses",
    "Slots",
    "SubmitQueuePort",
    "TaskMove",
    "Tasks",
    "Timeline",
    "WorkflowPort",
]


class Jobs(Protocol):
    def create(self, job: Job, event: TimelineEvent) -> None:
        """Stores the job with its credits reserved; raises InsufficientCredits, JobAlreadyExists."""

    def get(self, job_id: str) -> Job | None: ...

    def of_user(self, user_id: str, query: JobQuery) -> Page[Job]: ...

    def mark_started(self, job_id: str) -> Job | None: ...

    def request_cancel(self, job: Job, event: TimelineEvent) -> Job | None: ...

    def cancelling(self, limit: int = 100) -> list[str]: ...

    def clear_cancel_mark(self, job_id: str) -> None: ...

    def not_started(self, older_than: datetime, limit: int = 100) -> list[str]: ...

    def finish(
        self, job: Job, status: JobStatus, release: int, event: TimelineEvent, *, unstarted_as: TaskStatus
    ) -> Job | None: ...

    def mark_event_published(self, job_id: str) -> bool: ...

    def resolve_step_size(self, job: Job, step: int, size: int, event: TimelineEvent) -> bool:
        """Fixes a pipeline step's size once, releasing the slots it will not use."""


class Tasks(Protocol):
    def put_many(self, tasks: list[Task]) -> None: ...

    def get(self, job_id: str, index: int) -> Task | None: ...

    def page(
        self, job_id: str, *, limit: int, start: dict[str, Any] | None, within: tuple[int, int] | None = None
    ) -> Page[Task]:
        """A page of the job's tasks in index order (`within`: only indexes first..last)."""

    def key_after(self, job_id: str, index: int) -> dict[str, Any]: ...

    def first_index(self, job_id: str, start: dict[str, Any] | None) -> int: ...

    def of_job(self, job_id: str) -> Iterator[Task]: ...

    def in_status(self, job_id: str, status: TaskStatus) -> Iterator[Task]: ...

    def webhooks_overdue(
        self, now: datetime, limit: int = 200, wanted: Callable[[datetime], bool] | None = None
    ) -> list[tuple[str, int]]: ...

    def mark_submitted(
        self, job: Job, index: int, accepted: Accepted, event: TimelineEvent, attempts: int = 1
    ) -> bool: ...

    def end(self, job: Job, index: int, move: TaskMove, event: TimelineEvent) -> bool: ...

    def count_submit_attempt(self, job_id: str, index: int) -> None: ...

    def retry(self, job: Job, retry: JobRetry, event: TimelineEvent) -> bool:
        """Raises InsufficientCredits; False when the job is no longer the ended job read."""

    def claim(self, job_id: str, index: int, task_input: dict[str, Any]) -> bool:
        """Plans a PENDING pipeline task once, with its rendered input."""

    def record_signal(self, job_id: str, index: int, signal: dict[str, Any]) -> bool:
        """Keeps a signal on a task not ended that has none yet."""

    def attach_token(self, job_id: str, index: int, token: str) -> bool: ...

    def record_running(self, task: Task, progress: float | None) -> bool:
        """Writes only what the observation changed on `task` (False, nothing written, if nothing)."""

    def record_poll_error(self, job_id: str, index: int) -> bool: ...

    def sweep_again_at(self, job_id: str, index: int, at: datetime) -> bool: ...

    def claim_provider_cancel(self, job_id: str, index: int) -> bool: ...

    def release_provider_cancel(self, job_id: str, index: int) -> None: ...


class Slots(Protocol):
    """Fair dispatch: slots taken at admission and given back at a task's end, tasks held for one
    (by pool) or parked while their job is paused, and the pools' counters."""

    def held(self, provider: str, limit: int = 1000) -> list[Held]: ...

    def parked(self, job_id: str | None = None) -> list[tuple[str, int]]: ...

    def pool(self, scope: str) -> PoolState: ...

    def slots_of(self, provider: str) -> list[tuple[TaskSlot, str]]: ...

    def hold(self, held: Held, provider: str, token: str) -> bool: ...

    def park(self, job_id: str, index: int, token: str) -> bool: ...

    def unhold(self, job_id: str, index: int) -> str | None: ...

    def recount_held(self, provider: str) -> bool: ...

    def held_token(self, job_id: str, index: int) -> tuple[str, datetime | None] | None: ...

    def beat(self, job_id: str, index: int, at: datetime) -> None: ...

    def admit(self, admission: Admission, pools: dict[str, PoolState]) -> TaskSlot:
        """Raises Refused (naming what was full) when the slot could not be taken."""

    def block(self, provider: str, until: datetime) -> None: ...

    def counter(self, scope_or_user: tuple[str, str]) -> tuple[int, int]: ...

    def repair(self, scope_or_user: tuple[str, str], revision: int, counted: int) -> bool: ...


class Pauses(Protocol):
    def pause(self, job: Job, event: TimelineEvent) -> Job | None:
        """Pauses an active job not cancelling (None: it was not one, or was paused already)."""

    def resume(self, job: Job, event: TimelineEvent) -> Job | None: ...

    def clear(self, job_id: str, at: datetime) -> None: ...

    def paused_since(self, before: datetime, limit: int = 100) -> list[str]: ...


class DispatchQueuePort(Protocol):
    def nudge(self, pool: str | None = None, job_id: str | None = None, delay_seconds: int = 0) -> None:
        """Asks the dispatcher for a pass over `pool` (or over a job's parked tasks); best effort."""


class Credits(Protocol):
    def account(self, user_id: str) -> CreditAccount: ...

    def grant(self, user_id: str, amount: int, grant_id: str, reason: str | None) -> bool: ...

    def set_plan(self, user_id: str, plan: str | None) -> None: ...

    def ledger(self, user_id: str, limit: int = 100) -> list[LedgerEntry]: ...


class Devices(Protocol):
    def get(self, user_id: str, device_id: str) -> Device | None: ...

    def of_user(self, user_id: str) -> list[Device]: ...

    def endpoint_owner(self, endpoint_arn: str) -> Device | None: ...

    def hand_over(self, device: Device, previous: Device | None) -> bool: ...

    def forget(self, device: Device) -> None: ...

    def claim_push(self, job_id: str, device_id: str) -> bool: ...

    def release_push(self, job_id: str, device_id: str) -> None: ...


class Timeline(Protocol):
    def add(self, event: TimelineEvent) -> None: ...

    def add_many(self, events: list[TimelineEvent]) -> None: ...

    def page(self, job_id: str, *, limit: int, start: dict[str, Any] | None) -> Page[TimelineEvent]: ...


class Operations(Protocol):
    def create(self, operation: Operation) -> None: ...

    def get(self, operation_id: str) -> Operation | None: ...

    def matching_jobs(
        self, job_filter: JobFilter, start: dict[str, Any] | None, scanned: int
    ) -> Page[Job]: ...

    def count_jobs(self, job_filter: JobFilter) -> int: ...

    def claim(self, operation_id: str, what: str) -> bool: ...

    def count(self, operation_id: str, outcome: str) -> None: ...

    def finish(self, operation_id: str) -> None: ...


class BulkQueuePort(Protocol):
    def send_page(self, page: BulkPage) -> None: ...


class ObjectStore(Protocol):
    def put_json(self, key: str, value: Any) -> None: ...

    def get_json(self, key: str) -> Any: ...

    def put_stream(self, key: str, stream: IO[bytes], content_type: str) -> int: ...

    def head(self, key: str) -> dict[str, Any] | None: ...

    def presign(self, key: str, ttl_seconds: int) -> str: ...


class WorkflowPort(Protocol):
    def start(self, job_id: str, run: int = 0) -> bool: ...

    def succeed(self, token: str, answer: TaskEnded) -> bool: ...

    def heartbeat(self, token: str) -> bool: ...

    def fail(self, token: str, error: str, cause: str) -> bool: ...


class SubmitQueuePort(Protocol):
    """Messages are grouped by the job's user (fair delivery between users)."""

    def cancel_in_flight(self, job_id: str, user_id: str) -> None:
        """Raises QueueUnavailable when the message could not be sent."""

    def send_task(self, message: SubmitTask, user_id: str | None) -> None: ...

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None: ...


class NotificationsPort(Protocol):
    def publish_job_event(self, event: JobEvent) -> str: ...

    def claim_endpoint(self, platform_application_arn: str, token: str, user_id: str) -> str: ...

    def delete_endpoint(self, endpoint_arn: str) -> None: ...

    def push(self, endpoint_arn: str, message: dict[str, str]) -> str:
        """Raises EndpointGone for a disabled or deleted endpoint."""


class AppFunctions(Protocol):
    def invoke(self, arn: str, payload: dict[str, Any]) -> AppFunctionResult:
        """Runs the app function `arn` on `payload` (an AppFunctionRequest on the wire) and returns its
        answer. Raises AppFunctionFailed (it raised, answered something else, or may not be invoked),
        AppFunctionTimedOut, or AppFunctionThrottled (retry later)."""


class Collaborators(Protocol):
    """What every logic function is handed: the settings, time, crash boundaries, the catalog, the
    cursor key and each port. Read-only, so a collaborator built on first use satisfies it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def checkpoints(self) -> Checkpoints: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def cursor_key(self) -> bytes: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def tasks(self) -> Tasks: ...

    @property
    def credits(self) -> Credits: ...

    @property
    def devices(self) -> Devices: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def operations(self) -> Operations: ...

    @property
    def bulk_queue(self) -> BulkQueuePort: ...

    @property
    def storage(self) -> ObjectStore: ...

    @property
    def workflow(self) -> WorkflowPort: ...

    @property
    def submit_queue(self) -> SubmitQueuePort: ...

    @property
    def run_queue(self) -> SubmitQueuePort: ...

    @property
    def slots(self) -> Slots: ...

    @property
    def dispatch_queue(self) -> DispatchQueuePort: ...

    @property
    def pauses(self) -> Pauses: ...

    @property
    def notifications(self) -> NotificationsPort: ...

    @property
    def app_functions(self) -> AppFunctions: ...
