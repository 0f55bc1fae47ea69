"""Request and response models of the public HTTP API (the OpenAPI document is generated from them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from genjobs.models import stored
from genjobs.models.domain import ShownJobStatus, StepKind, TaskStatus
from genjobs.models.pipeline import StepRequest
from genjobs.models.stored import VALID_TEXT

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), VALID_TEXT]

# How many maps or lists enclose each stored value in its DynamoDB item. The job item holds
# `input` as an attribute and the plan as `plan.tasks[i]` and `plan.matrix[name][j]`; a task item
# holds the merged input as `input`, a matrix value that is no object under `input[name]`.
CommonInput = Annotated[
    dict[str, Any], stored.within(0), Field(description=f"Input common to every task. {stored.LIMITS}.")
]
TaskInput = Annotated[dict[str, Any], stored.within(2)]
MatrixValue = Annotated[Any, stored.within(3)]


# A count is a JSON integer: 5.0, "5" or 1.00000000000000000001 are refused, never rounded to one.
WholeNumber = Annotated[int, Strict()]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class CreateJobRequest(_Request):
    """One model over N inputs: `provider`, `model` and either `tasks` (one input per task) or `matrix`
    (named value lists, optionally with `count`). Or a pipeline: `steps` that feed each other."""

    provider: Name | None = Field(
        default=None, description="Provider name from the catalog, e.g. `simulator`, `replicate`, `fal`."
    )
    model: Name | None = Field(default=None, description="Model of that provider, e.g. `sim-image`.")
    steps: list[StepRequest] | None = Field(
        default=None,
        min_length=1,
        description="A pipeline: named steps, each a model, the app's function or a signal, run for each "
        "item of an earlier step or over all its outputs (see the pipeline examples).",
    )
    input: CommonInput = Field(default_factory=dict)
    tasks: list[TaskInput] | None = Field(
        default=None,
        description=f"Explicit per-task inputs, merged over `input`; one task each. {stored.LIMITS}.",
    )
    matrix: (
        dict[Annotated[str, StringConstraints(min_length=1, max_length=64), VALID_TEXT], list[MatrixValue]]
        | None
    ) = Field(
        default=None,
        max_length=8,
        description="Named lists of values; every combination once, or `count` of them round-robin. "
        f"An object value is merged into the task input; any other value is set under its name. {stored.LIMITS}.",
    )
    count: WholeNumber | None = Field(
        default=None, ge=1, description="Exactly this many tasks from the matrix."
    )
    collection_id: Annotated[str, StringConstraints(min_length=1, max_length=128), VALID_TEXT] | None = Field(
        default=None,
        alias="collectionId",
        description="Groups jobs, e.g. an album; filter with `collectionId`.",
    )
    metadata: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64), VALID_TEXT],
        Annotated[str, StringConstraints(max_length=512), VALID_TEXT],
    ] = Field(default_factory=dict, max_length=32, description="Free-form labels returned with the job.")
    concurrency: WholeNumber | None = Field(
        default=None, ge=1, le=100, description="Most tasks of this job in flight."
    )

    @model_validator(mode="after")
    def _one_model_or_steps(self) -> CreateJobRequest:
        if self.steps is not None:
            for name in ("provider", "model", "tasks", "matrix", "count"):
                if getattr(self, name) is not None:
                    raise PydanticCustomError(
                        "pipeline",
                        "{reason}",
                        {"reason": f"give '{name}' in each step of a pipeline", "path": name},
                    )
            return self
        for name in ("provider", "model"):
            if getattr(self, name) is None:
                raise PydanticCustomError(
                    "missing", "{reason}", {"reason": "required (or give 'steps')", "path": name}
                )
        return self

    @model_validator(mode="after")
    def _task_items_fit(self) -> CreateJobRequest:
        """Every task item the job writes holds its merged input: it must fit in a DynamoDB item."""
        field, largest = largest_task_input(self)
        if largest > stored.MAX_TASK_INPUT_BYTES:
            raise PydanticCustomError(
                "dynamodb_limit",
                "{reason}",
                {
                    "reason": f"a task's input (the common input with its own values) would take {largest} "
                    f"bytes of its DynamoDB item; at most {stored.MAX_TASK_INPUT_BYTES} "
                    f"(the item's limit of {stored.MAX_ITEM_BYTES} less {stored.TASK_ITEM_RESERVE_BYTES} "
                    "for the task's own attributes)",
                    "path": field,
                },
            )
        return self


def largest_task_input(request: CreateJobRequest) -> tuple[str, int]:
    """The field that makes the largest task input, and that input's size in its item.

    Exact for `tasks`. For a matrix, the common input plus the largest value of every dimension: a
    bound (a merged object value may replace common keys) that costs no expansion of the plan.
    """
    common = {key: 1 + stored.entry_size(key, value) for key, value in request.input.items()}
    base = 3 + sum(common.values())
    field, largest = "input", base
    for index, task in enumerate(request.tasks or []):
        own = sum(1 + stored.entry_size(key, value) for key, value in task.items())
        replaced = sum(common.get(key, 0) for key in task)
        if base - replaced + own > largest:
            field, largest = f"tasks.{index}", base - replaced + own
    if request.matrix:
        extra = 0
        for name, values in request.matrix.items():
            extra += max((_matrix_value_size(name, value) for value in values), default=0)
        if base + extra > largest:
            field, largest = "matrix", base + extra
    if base > stored.MAX_TASK_INPUT_BYTES:  # the common input alone is too big
        field = "input"
    return field, largest


def _matrix_value_size(name: str, value: Any) -> int:
    if isinstance(value, dict):
        return sum(1 + stored.entry_size(key, item) for key, item in value.items())
    return 1 + stored.entry_size(name, value)


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
    SKIPPED: int = Field(default=0, description="Pipeline tasks not run because what they need failed.")


class CreditsView(_Response):
    unit_price: int = Field(alias="unitPrice")
    reserved: int
    charged: int
    refunded: int


class OutputView(_Response):
    url: str = Field(description="Short-lived download URL of the stored output.")
    content_type: str = Field(alias="contentType")
    size: int


class RetryJobRequest(_Request):
    """Which of an ended job's tasks run again: `failed` (the default), `cancelled` (cancelled or
    never started), or both."""

    # (pydantic copies a mutable default for each request)
    include: list[Literal["failed", "cancelled"]] = Field(default=["failed"], min_length=1, max_length=2)


class AttemptView(_Response):
    attempt: int
    status: TaskStatus
    error: str | None = None
    provider_id: str | None = Field(default=None, alias="providerId")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")


class TaskView(_Response):
    index: int
    step: str | None = Field(default=None, description="A pipeline task's step.")
    item: int | None = Field(default=None, description="A pipeline task's item within its step (0-based).")
    status: TaskStatus
    input: dict[str, Any]
    progress: float | None = None
    error: str | None = None
    provider_id: str | None = Field(default=None, alias="providerId")
    outputs: list[OutputView] = Field(default_factory=list)
    result: Any = Field(
        default=None,
        description="What a pipeline task returned as data (a text model's JSON, an app function's result).",
    )
    submitted_at: datetime | None = Field(default=None, alias="submittedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    attempt: int = Field(
        default=1, description="Its run, from 1; each retry of the job runs it again as the next."
    )
    attempts: list[AttemptView] = Field(
        default_factory=list, description="How each earlier attempt ended, oldest first."
    )


class StepCreditsView(_Response):
    unit_price: int = Field(alias="unitPrice")
    reserved: int
    charged: int
    refunded: int


class StepView(_Response):
    name: str
    kind: StepKind
    provider: str | None = None
    model: str | None = None
    size: int | None = Field(description="Its number of tasks; null until a fan-out's items are known.")
    max_size: int = Field(alias="maxSize", description="The tasks reserved for it.")
    final: bool = Field(description="No step depends on it: its outputs are the job's.")
    counts: CountsView
    progress: float = Field(description="Percent of the step's tasks ended, 0 to 100.")
    credits: StepCreditsView = Field(
        description="`reserved` is `maxSize` x `unitPrice`; `refunded` includes the slots a fan-out did not use."
    )


class JobView(_Response):
    job_id: str = Field(alias="jobId")
    status: ShownJobStatus
    provider: str | None = Field(
        default=None, description="A one-step job's provider (a pipeline's are per step)."
    )
    model: str | None = Field(default=None, description="A one-step job's model.")
    steps: list[StepView] = Field(
        default_factory=list,
        description="A pipeline's steps in order, each with its counts, percent and credits. The job's "
        "percent weighs every task alike, whatever its step.",
    )
    collection_id: str | None = Field(default=None, alias="collectionId")
    metadata: dict[str, str] = Field(default_factory=dict)
    plan: PlanView
    concurrency: int
    counts: CountsView
    progress: float = Field(
        description="Percent of the job done, 0 to 100: every task weighs the same, whatever its step."
    )
    credits: CreditsView
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    cancel_requested_at: datetime | None = Field(default=None, alias="cancelRequestedAt")
    paused_at: datetime | None = Field(
        default=None, alias="pausedAt", description="Set while the job is paused (status PAUSED)."
    )
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    retries: int = Field(default=0, description="How often the job was retried (POST /jobs/{jobId}/retry).")


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
    seq: int | None = Field(
        default=None, description="The change's number on the live channel (listed with `after`)."
    )
    at: datetime
    kind: str
    task_index: int | None = Field(default=None, alias="taskIndex")
    step: str | None = Field(default=None, description="A pipeline task's step (or the step it is about).")
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
    user_id: Annotated[str, StringConstraints(min_length=1, max_length=128), VALID_TEXT] = Field(
        alias="userId"
    )
    amount: WholeNumber = Field(ge=1, le=1_000_000)
    reason: Annotated[str, StringConstraints(max_length=256), VALID_TEXT] | None = None
    grant_id: Annotated[str, StringConstraints(min_length=1, max_length=128), VALID_TEXT] | None = Field(
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
    token: Annotated[str, StringConstraints(min_length=8, max_length=4096), VALID_TEXT]


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


class SignalDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class SignalRequest(_Request):
    decision: SignalDecision = Field(
        default=SignalDecision.APPROVE,
        description="`approve`: the step completes (its `data` is its result); `reject`: it fails and "
        "what depends on it is skipped.",
    )
    data: Annotated[dict[str, Any], stored.within(2)] = Field(
        default_factory=dict,
        description="The step's result, for the steps after it (`${steps.<name>.results}`).",
    )
    reason: Annotated[str, StringConstraints(max_length=512), VALID_TEXT] | None = None


class SignalView(_Response):
    job_id: str = Field(alias="jobId")
    step: str
    decision: SignalDecision
