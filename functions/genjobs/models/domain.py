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


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_TASK_STATUSES


TERMINAL_TASK_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class TaskCounts(_Model):
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def terminal(self) -> int:
        return self.completed + self.failed + self.cancelled

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


class Job(_Model):
    job_id: str = Field(alias="jobId")
    user_id: str = Field(alias="userId")
    status: JobStatus
    provider: str
    model: str
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
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    prepared: bool = False
    event_published_at: datetime | None = Field(default=None, alias="eventPublishedAt")

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None


class Output(_Model):
    key: str
    content_type: str = Field(alias="contentType")
    size: int
    source_url: str | None = Field(default=None, alias="sourceUrl")


class Task(_Model):
    job_id: str = Field(alias="jobId")
    index: int
    status: TaskStatus
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
    created_at: datetime | None = Field(default=None, alias="createdAt")
    submitted_at: datetime | None = Field(default=None, alias="submittedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")


class CreditAccount(_Model):
    """Invariant, kept by every movement in one transaction: granted = available + reserved + charged."""

    user_id: str = Field(alias="userId")
    granted: int = 0
    available: int = 0
    reserved: int = 0
    charged: int = 0


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
    reason: str | None = None
    at: datetime


class TimelineEvent(_Model):
    job_id: str = Field(alias="jobId")
    at: datetime
    kind: str
    task_index: int | None = Field(default=None, alias="taskIndex")
    detail: JsonObject = Field(default_factory=dict)


class Device(_Model):
    user_id: str = Field(alias="userId")
    device_id: str = Field(alias="deviceId")
    platform: str
    endpoint_arn: str = Field(alias="endpointArn")
    created_at: datetime = Field(alias="createdAt")
