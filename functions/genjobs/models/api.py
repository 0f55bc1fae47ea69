"""Request and response models of the public HTTP API (the OpenAPI document is generated from them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from genjobs.models.domain import JobStatus, TaskStatus

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class CreateJobRequest(_Request):
    """Either `tasks` (one input per task) or `matrix` (named value lists, optionally with `count`)."""

    provider: Name = Field(
        description="Provider name from the catalog, e.g. `simulator`, `replicate`, `fal`."
    )
    model: Name = Field(description="Model of that provider, e.g. `sim-image`.")
    input: dict[str, Any] = Field(default_factory=dict, description="Input common to every task.")
    tasks: list[dict[str, Any]] | None = Field(
        default=None, description="Explicit per-task inputs, merged over `input`; one task each."
    )
    matrix: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], list[Any]] | None = Field(
        default=None,
        max_length=8,
        description="Named lists of values; every combination once, or `count` of them round-robin. "
        "An object value is merged into the task input; any other value is set under its name.",
    )
    count: int | None = Field(default=None, ge=1, description="Exactly this many tasks from the matrix.")
    collection_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None,
        alias="collectionId",
        description="Groups jobs, e.g. an album; filter with `collectionId`.",
    )
    metadata: dict[
        Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=512)]
    ] = Field(default_factory=dict, max_length=32, description="Free-form labels returned with the job.")
    concurrency: int | None = Field(
        default=None, ge=1, le=100, description="Most tasks of this job in flight."
    )


class PlanView(_Response):
    task_count: int = Field(alias="taskCount")
    unit_price: int = Field(alias="unitPrice")
    credits_reserved: int = Field(alias="creditsReserved")


class CountsView(_Response):
    PENDING: int
    PROCESSING: int
    COMPLETED: int
    FAILED: int
    CANCELLED: int


class CreditsView(_Response):
    unit_price: int = Field(alias="unitPrice")
    reserved: int
    charged: int
    refunded: int


class OutputView(_Response):
    url: str = Field(description="Short-lived download URL of the stored output.")
    content_type: str = Field(alias="contentType")
    size: int


class TaskView(_Response):
    index: int
    status: TaskStatus
    input: dict[str, Any]
    progress: float | None = None
    error: str | None = None
    provider_id: str | None = Field(default=None, alias="providerId")
    outputs: list[OutputView] = Field(default_factory=list)
    submitted_at: datetime | None = Field(default=None, alias="submittedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")


class JobView(_Response):
    job_id: str = Field(alias="jobId")
    status: JobStatus
    provider: str
    model: str
    collection_id: str | None = Field(default=None, alias="collectionId")
    metadata: dict[str, str] = Field(default_factory=dict)
    plan: PlanView
    concurrency: int
    counts: CountsView
    progress: float = Field(description="Percent of the job done, 0 to 100.")
    credits: CreditsView
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    cancel_requested_at: datetime | None = Field(default=None, alias="cancelRequestedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")


class JobDetailView(JobView):
    tasks: list[TaskView] = Field(description="The first page of tasks; more at /jobs/{jobId}/tasks.")
    tasks_cursor: str | None = Field(default=None, alias="tasksCursor")


class JobListView(_Response):
    items: list[JobView]
    cursor: str | None = None


class TaskListView(_Response):
    items: list[TaskView]
    cursor: str | None = None


class EventView(_Response):
    at: datetime
    kind: str
    task_index: int | None = Field(default=None, alias="taskIndex")
    detail: dict[str, Any] = Field(default_factory=dict)


class EventListView(_Response):
    items: list[EventView]
    cursor: str | None = None


class CreditsBalanceView(_Response):
    available: int
    reserved: int
    charged: int
    granted: int


class GrantCreditsRequest(_Request):
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(alias="userId")
    amount: int = Field(ge=1, le=1_000_000)
    reason: Annotated[str, StringConstraints(max_length=256)] | None = None
    grant_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None,
        alias="grantId",
        description="Makes the grant idempotent; defaults to the Idempotency-Key.",
    )


class GrantView(_Response):
    user_id: str = Field(alias="userId")
    grant_id: str = Field(alias="grantId")
    applied: bool = Field(description="False when this grant id had already been applied.")
    balance: CreditsBalanceView


class Platform(StrEnum):
    FCM = "FCM"
    APNS = "APNS"


class RegisterDeviceRequest(_Request):
    platform: Platform
    token: Annotated[str, StringConstraints(min_length=8, max_length=4096)]


class DeviceView(_Response):
    device_id: str = Field(alias="deviceId")
    platform: Platform
    created_at: datetime = Field(alias="createdAt")


class ListJobsQuery(StrEnum):
    ACTIVE = "active"
    FINISHED = "finished"


class AuthorizerError(_Response):
    """What the API's JWT authorizer answers (before any function runs) for a missing or bad token."""

    message: str = "Unauthorized"
