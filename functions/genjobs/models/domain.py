"""Domain models: jobs, tasks, credits. Stored as DynamoDB items by the repositories of genjobs.dal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

JsonObject = dict[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def retry_tag(number: int) -> str:
    """What names a job's `number`-th retry where each run needs its own record (its reservation
    and settlement on the ledger, its completion push)."""
    return f"RETRY#{number:02d}"


def is_job_id(value: str) -> bool:
    """Job ids are UUIDs: anything else names no job, and is never looked up."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class JobStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_JOB_STATUSES

    @property
    def active(self) -> bool:
        return not self.terminal


TERMINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class ShownJobStatus(StrEnum):
    """A job's status as the API shows it: its stored status, or PAUSED while an active job
    (PENDING or PROCESSING) is paused."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    # A pipeline task that never ran because what it depends on failed (never submitted, not charged).
    SKIPPED = "SKIPPED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_TASK_STATUSES


TERMINAL_TASK_STATUSES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED}
)


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class TaskCounts(_Model):
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0

    @property
    def terminal(self) -> int:
        return self.completed + self.failed + self.cancelled + self.skipped

    def get(self, status: TaskStatus) -> int:
        return int(getattr(self, status.value.lower()))


class JobCredits(_Model):
    unit_price: int = Field(alias="unitPrice")
    reserved: int
    charged: int = 0
    refunded: int = 0

    @property
    def outstanding(self) -> int:
        """Reserved credits neither charged nor refunded yet."""
        return self.reserved - self.charged - self.refunded


class Plan(_Model):
    """What to run, as the caller gave it: an explicit list or a matrix (see logic.planning)."""

    tasks: list[JsonObject] | None = None
    matrix: dict[str, list[Any]] | None = None
    count: int | None = None


class StepKind(StrEnum):
    """How a pipeline step's tasks run (see docs/design/pipelines.md)."""

    ASYNC = "async"  # submitted to a provider, then polled or called back
    SYNC = "sync"  # one provider call that answers with the output
    LAMBDA = "lambda"  # the app's own Lambda function
    SIGNAL = "signal"  # waits for the app's POST /jobs/{id}/signals/{name}


class StepSummary(_Model):
    """What every task transition needs of its step, kept on the job item: its tasks are the
    indexes [base, base + slots), each priced `price`. The step's full definition (input template,
    shape, dependencies) is in the job's spec."""

    name: str
    kind: StepKind = StepKind.ASYNC
    provider: str | None = None
    model: str | None = None
    function: str | None = None
    price: int = Field(ge=0)
    base: int = Field(ge=0)
    slots: int = Field(ge=1)
    final: bool = Field(default=False, description="No step depends on it: its outputs are the job's")
    # A signal step's wait and what its end is when nobody signals in time (fail, skip, proceed).
    timeout_seconds: int | None = Field(default=None, alias="timeoutSeconds")
    on_timeout: str | None = Field(default=None, alias="onTimeout")


class StepState(_Model):
    """A pipeline step's counters, kept on the job item by every transition of its tasks."""

    counts: TaskCounts = Field(default_factory=TaskCounts)
    charged: int = 0
    refunded: int = 0
    size: int | None = Field(default=None, description="Its number of tasks, once known")
    retried: int = Field(default=0, description="Credits reserved again by retries of its tasks")


class Job(_Model):
    job_id: str = Field(alias="jobId")
    user_id: str = Field(alias="userId")
    status: JobStatus
    # A one-step job's model; a pipeline's are its steps' (Job.for_task gives a task's).
    provider: str = ""
    model: str = ""
    input: JsonObject = Field(default_factory=dict)
    plan: Plan | None = None
    # Where the plan and input live when they are too big for this item: S3 {"plan", "input"}.
    spec_key: str | None = Field(default=None, alias="specKey")
    task_count: int = Field(alias="taskCount")
    concurrency: int
    collection_id: str | None = Field(default=None, alias="collectionId")
    metadata: dict[str, str] = Field(default_factory=dict)
    counts: TaskCounts
    credits: JobCredits
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    cancel_requested_at: datetime | None = Field(default=None, alias="cancelRequestedAt")
    # Set while the job is paused (POST /jobs/{id}/pause): it submits nothing new until resumed.
    paused_at: datetime | None = Field(default=None, alias="pausedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    prepared: bool = False
    # How often the job was retried (POST /jobs/{id}/retry): its workflow's run is named after it.
    retries: int = 0
    event_published_at: datetime | None = Field(default=None, alias="eventPublishedAt")
    # A pipeline's steps, in order (empty: a one-step job of `provider`/`model`).
    steps: list[StepSummary] = Field(default_factory=list)
    step_states: list[StepState] = Field(default_factory=list, alias="stepStates")

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def shown_status(self) -> ShownJobStatus:
        """PAUSED while an active job is paused (not once cancelling or ended), else its status."""
        if self.paused and self.status in {JobStatus.PENDING, JobStatus.PROCESSING}:
            return ShownJobStatus.PAUSED
        return ShownJobStatus(self.status.value)

    @property
    def is_pipeline(self) -> bool:
        return bool(self.steps)

    def step_of(self, index: int) -> int:
        """The number of the step task `index` belongs to (0 for a one-step job)."""
        for number, step in enumerate(self.steps):
            if step.base <= index < step.base + step.slots:
                return number
        return 0

    def for_task(self, index: int) -> Job:
        """The job as task `index` sees it: with its step's provider and model (a one-step job: itself)."""
        if not self.steps:
            return self
        step = self.steps[self.step_of(index)]
        return self.model_copy(update={"provider": step.provider or "", "model": step.model or ""})

    def price_of(self, index: int) -> int:
        """What task `index` costs: its step's price (the job's unit price for a one-step job)."""
        if not self.steps:
            return self.credits.unit_price
        return self.steps[self.step_of(index)].price


class Output(_Model):
    key: str
    content_type: str = Field(alias="contentType")
    size: int
    source_url: str | None = Field(default=None, alias="sourceUrl")


class Attempt(_Model):
    """How an earlier run of a task ended (kept on the task when it is retried)."""

    attempt: int = Field(ge=1)
    status: TaskStatus
    error: str | None = None
    provider_id: str | None = Field(default=None, alias="providerId")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")


class TaskSlot(_Model):
    """What a task admitted by fair dispatch holds until it ends: a place in its user's plan limit
    and in each limited pool (`scopes`: "provider" and "provider/model"), given back once."""

    user: str
    scopes: list[str] = Field(default_factory=list)
    at: datetime
    # Its user's plan priority when admitted: a task that gives its slot back waits at it again.
    priority: int = 0


class Task(_Model):
    job_id: str = Field(alias="jobId")
    index: int
    status: TaskStatus
    # Its run, counted from 1: a retry of its job runs it again as the next attempt.
    attempt: int = Field(default=1, ge=1)
    # The earlier attempts, oldest first (at most MAX_JOB_RETRIES, so the item stays small).
    attempts: list[Attempt] = Field(default_factory=list)
    input: JsonObject
    provider_id: str | None = Field(default=None, alias="providerId")
    progress: float | None = None
    outputs: list[Output] = Field(default_factory=list)
    error: str | None = None
    submit_attempts: int = Field(default=0, alias="submitAttempts")
    poll_count: int = Field(default=0, alias="pollCount")
    poll_errors: int = Field(default=0, alias="pollErrors")
    sweeps: int = Field(default=0, description="How often the sweeper found it overdue and unfinished")
    provider_cancelled_at: datetime | None = Field(default=None, alias="providerCancelledAt")
    task_token: str | None = Field(default=None, alias="taskToken")
    # The provider's delivery that ended it, if a webhook did: a replay of it is told apart from
    # another delivery with no record per delivery.
    ended_by: str | None = Field(default=None, alias="endedBy")
    # Pipelines (the task's step and item follow from its index: Job.step_of): what it returned as
    # data (a text model's parsed answer, an app function's result), when it was planned (its input
    # rendered from what it depends on) and a signal's decision.
    result: Any = None
    planned_at: datetime | None = Field(default=None, alias="plannedAt")
    signal: JsonObject | None = None
    created_at: datetime | None = Field(default=None, alias="createdAt")
    submitted_at: datetime | None = Field(default=None, alias="submittedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    # Fair dispatch: the slot it holds once admitted, or the token parked while it waits for one.
    slot: TaskSlot | None = None
    held_token: str | None = Field(default=None, alias="heldToken")


class CreditAccount(_Model):
    """Invariant, kept by every movement in one transaction: granted = available + reserved + charged."""

    user_id: str = Field(alias="userId")
    granted: int = 0
    available: int = 0
    reserved: int = 0
    charged: int = 0
    # The plan an operator assigned (None: the configured default), and the user's tasks at
    # providers now across all their jobs (taken at admission, given back at each task's end).
    plan: str | None = None
    in_flight: int = Field(default=0, alias="inFlight")


class LedgerKind(StrEnum):
    GRANT = "GRANT"
    RESERVE = "RESERVE"
    CHARGE = "CHARGE"
    RELEASE = "RELEASE"


class LedgerEntry(_Model):
    user_id: str = Field(alias="userId")
    entry_id: str = Field(alias="entryId")
    kind: LedgerKind
    amount: int
    job_id: str | None = Field(default=None, alias="jobId")
    task_index: int | None = Field(default=None, alias="taskIndex")
    step: str | None = None
    reason: str | None = None
    at: datetime


class TimelineEvent(_Model):
    job_id: str = Field(alias="jobId")
    at: datetime
    kind: str
    task_index: int | None = Field(default=None, alias="taskIndex")
    detail: JsonObject = Field(default_factory=dict)


class JobFilter(BaseModel):
    """Which jobs an operator's bulk operation acts on (every condition given must hold)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    status: list[JobStatus] | None = Field(default=None, min_length=1)
    provider: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=128)
    created_from: datetime | None = Field(default=None, alias="createdFrom")
    created_to: datetime | None = Field(default=None, alias="createdTo")


class Operation(_Model):
    """An operator's bulk action over the jobs a filter matches, run page by page; its counters
    say how far it got (each job is counted once, when it is handled)."""

    operation_id: str = Field(alias="operationId")
    action: str
    filter: JobFilter
    include: list[str] = Field(default_factory=list)
    by: str
    status: str = "RUNNING"
    done: int = Field(default=0, description="Jobs retried or cancelled")
    skipped: int = Field(
        default=0, description="Matched jobs the action refused (running, nothing to retry...)"
    )
    created_at: datetime = Field(alias="createdAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")


class Device(_Model):
    user_id: str = Field(alias="userId")
    device_id: str = Field(alias="deviceId")
    platform: str
    endpoint_arn: str = Field(alias="endpointArn")
    created_at: datetime = Field(alias="createdAt")
