"""The messages between the workflow's steps: each state's input and output, the SubmitQueue's
and RunQueue's messages, the task token's answer, the job event, a received provider webhook, and
the contract of the app's own Lambda functions that pipeline steps invoke.

Each is read by one side and written by the other (a Lambda, the state machine, a queue, a topic),
so both sides use these models and their JSON Schemas are committed under docs/schemas (`make
schemas`); a contract test checks that the state machine sends and reads only their fields.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
)

from genjobs.models.domain import Job, JobCredits, JobStatus, TaskCounts
from genjobs.models.webhook import WebhookQuery


class _Message(BaseModel):
    # Read by the field's wire name (camelCase), written by it too; a field a newer writer adds is
    # ignored by an older reader (a deployment updates the functions one at a time).
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The message as the other side reads it (JSON types, wire names)."""
        return self.model_dump(mode="json", by_alias=True)


class JobRef(_Message):
    job_id: str = Field(alias="jobId")


class TaskRef(_Message):
    """One task of a job; also an item of the Distributed Map's manifest."""

    job_id: str = Field(alias="jobId")
    task_index: int = Field(alias="taskIndex", ge=0)


class ManifestTask(_Message):
    """One task of a batch, with how long its first status check waits when it is polled (its
    model's: a pipeline's steps differ)."""

    task_index: int = Field(alias="taskIndex", ge=0)
    first_check_seconds: int = Field(alias="firstCheckSeconds", ge=0)


class ManifestItem(_Message):
    """One item of a round's Distributed Map manifest: a batch of the job's tasks, run in one child
    execution by an inline Map, `width` of them at a time (logic.preparation.batches). A child start
    is billed like a state transition, the inline Map's iterations are not."""

    job_id: str = Field(alias="jobId")
    width: int = Field(ge=1, description="how many of the batch's tasks run at once in its child")
    tasks: list[ManifestTask] = Field(min_length=1)


# ----------------------------------------------------------------------------- the states
class PrepareJobInput(JobRef):
    """The execution's input (the API starts it), passed on to PrepareJob."""


class PrepareJobOutput(JobRef):
    """What the rest of the workflow runs on: the Map reads its manifest, concurrency and waits."""

    manifest_key: str = Field(alias="manifestKey")
    concurrency: int = Field(ge=1)
    task_count: int = Field(alias="taskCount", ge=0)
    cancel_requested: bool = Field(
        alias="cancelRequested", description="cancelled before its tasks ran: its manifest is empty"
    )
    more_rounds: bool = Field(
        alias="moreRounds",
        description="a pipeline with tasks this round does not run: PlanTasks plans the next round "
        "after it; otherwise the job settles after its round",
    )
    first_check_seconds: int = Field(
        alias="firstCheckSeconds",
        ge=0,
        description="the job's (a pipeline's first step's) wait before a polled task's first check; "
        "each manifest item carries its own",
    )
    heartbeat_seconds: int = Field(alias="heartbeatSeconds", ge=1)
    deadline_seconds: int = Field(alias="deadlineSeconds", ge=1)
    message_group: str | None = Field(
        default=None,
        alias="messageGroup",
        description="the SubmitQueue's message group of the job's tasks (submit_group of its user); "
        "PrepareJob and PlanTasks always set it (an execution started before it existed has none)",
    )


class PlanTasksInput(PrepareJobOutput):
    """The workflow's state after a round of RunTasks (PrepareJob's or the last PlanTasks' output)."""


class PlanTasksOutput(PrepareJobOutput):
    """The next round: the manifest of the tasks planned for it (empty and `done` when nothing is
    left to run), and `moreRounds` when tasks it does not run are left after it."""

    done: bool


class PollTaskInput(TaskRef):
    pass


class PollTaskOutput(TaskRef):
    """Returned once the task has ended (a task still running raises TaskNotReady instead)."""

    ended: Literal[True] = True


class CaughtError(_Message):
    """What a state's Catch puts at its ResultPath."""

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")

    def describe(self) -> str:
        return f"{self.error}: {self.cause}".strip(": ")


class FailTaskInput(TaskRef):
    error: CaughtError


class FailTaskOutput(TaskRef):
    pass


class SettleJobInput(JobRef):
    pass


class SettleJobOutput(JobRef):
    status: JobStatus


class TaskEnded(_Message):
    """The success answer to a task's waiting SubmitTask (from the submitter, a webhook, the sweeper
    or the DLQ consumer): nothing is left to wait for, the task's child ends."""

    ended: Literal[True] = True


# The failure answer to a polled task's SubmitTask while it runs at the provider: caught by this
# name, it leads to WaitForProvider, so telling the two answers apart costs no state.
POLL_PROVIDER = "PollProvider"


# ----------------------------------------------------------------------------- SubmitQueue
# What SQS accepts as a MessageGroupId: 1 to 128 printable ASCII characters but the space.
_GROUP_ID = re.compile(r"[\x21-\x7e]{1,128}")


def submit_group(user_id: str) -> str:
    """The SubmitQueue's message group of a user's tasks. The SubmitQueue is an SQS fair queue, whose
    tenants are message groups: a user with few tasks in flight is delivered before a busy one. The
    user id itself, or its SHA-256 when SQS would refuse it as a group id."""
    if _GROUP_ID.fullmatch(user_id):
        return user_id
    return hashlib.sha256(user_id.encode()).hexdigest()


class SubmitTask(TaskRef):
    """Sent by the state machine: submit the task, then answer `taskToken`."""

    task_token: str = Field(alias="taskToken", min_length=1)


class CancelJob(_Message):
    """Sent by the API when a job is cancelled: send its in-flight tasks' provider cancels."""

    cancel_job: str = Field(alias="cancelJob")


def _submit_queue_kind(message: Any) -> str:
    # The state machine's message carries no tag: a cancel is told by its one key.
    if isinstance(message, dict):
        return "cancel" if "cancelJob" in message else "submit"
    return "cancel" if isinstance(message, CancelJob) else "submit"


SubmitQueueMessage = Annotated[
    Annotated[SubmitTask, Tag("submit")] | Annotated[CancelJob, Tag("cancel")],
    Discriminator(_submit_queue_kind),
]


# ----------------------------------------------------------------------------- DispatchQueue
class DispatchNudge(_Message):
    """Asks the dispatcher for a pass over a pool's held tasks (a slot was given back, a task was
    held, a block ended), or over a job's parked tasks (it was resumed or cancelled)."""

    pool: str | None = None
    job_id: str | None = Field(default=None, alias="jobId")


# ----------------------------------------------------------------------------- RunQueue
class RunTask(TaskRef):
    """Sent by the state machine: run the task's step in the runner (a synchronous provider call or
    an invocation of an app function), keep what it returned, then answer `taskToken`."""

    task_token: str = Field(alias="taskToken", min_length=1)


# ----------------------------------------------------------------------------- app functions
class AppFunctionRequest(_Message):
    """What an app function receives when a pipeline step of kind `lambda` invokes it (a synchronous
    Lambda Invoke, RequestResponse): the task it runs for and the step's input, its template
    resolved. Files in `input` are URLs the function can GET as they are (presigned, short-lived):
    for an `overAll` step, the outputs of the steps it runs over, in item order. The request is at
    most 6 MB (Lambda's limit), so files travel as URLs, never inline."""

    job_id: str = Field(alias="jobId")
    task_index: int = Field(alias="taskIndex", ge=0)
    step: str = Field(description="the name of the pipeline step that invokes the function")
    input: dict[str, Any] = Field(description="the step's input, its template resolved")


class AppFunctionResult(_Message):
    """What an app function returns: its files as `outputs` (http(s) URLs the runner downloads, or
    `data:` URIs, e.g. `data:application/json;base64,...`), each copied into our bucket as the
    task's outputs in order, and any JSON value as `result`, kept with the task. The answer is at
    most 6 MB (Lambda's limit): a larger file goes out as a URL.

    A function that fails raises: Lambda answers with its FunctionError and `errorMessage`, and the
    task fails with that message (AppFunctionFailed). A function that runs past its timeout, or
    answers after 270 s (the runner's wait), fails the same way (AppFunctionTimedOut); one that
    Lambda throttles is retried later
    (AppFunctionThrottled) and does not fail the task."""

    outputs: list[Annotated[str, Field(pattern=r"^(https?://|data:)")]] = Field(
        default_factory=list, description="files the function produced: http(s) URLs or data: URIs"
    )
    result: Any = Field(default=None, description="any JSON value, kept with the task as it is")


# ----------------------------------------------------------------------------- job events
class JobEvent(_Message):
    """Published once per finished job on the job events topic (the notifier's queue gets it as is)."""

    type: str = Field(description="job.<status>, also the message's eventType attribute")
    job_id: str = Field(alias="jobId")
    user_id: str = Field(alias="userId")
    status: JobStatus
    collection_id: str | None = Field(default=None, alias="collectionId")
    counts: TaskCounts
    credits: JobCredits
    retries: int = Field(
        default=0, description="How often the job had been retried when it ended so: each end is pushed once"
    )
    # Written as Python writes it (+00:00), as the event always has been.
    finished_at: Annotated[datetime | None, PlainSerializer(lambda d: d.isoformat() if d else None)] = Field(
        default=None, alias="finishedAt"
    )

    @model_serializer(mode="wrap")
    def _as_before_unless_retried(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A job never retried is published as it always was.
        data: dict[str, Any] = handler(self)
        if not self.retries:
            data.pop("retries", None)
        return data

    @classmethod
    def of(cls, job: Job) -> JobEvent:
        # The job's fields of the same names; the job's others are not the event's (extra="ignore").
        return cls.model_validate({**dict(job), "type": f"job.{job.status.value.lower()}"})


class BulkPage(_Message):
    """One page of an operator's bulk operation (BulkQueue): the jobs table from `startKey` on."""

    operation_id: str = Field(alias="operationId")
    start_key: dict[str, str] | None = Field(default=None, alias="startKey")


# ----------------------------------------------------------------------------- schedules
class SweeperSchedule(_Message):
    """The sweeper's scheduled event: the schedule's Input, in which EventBridge Scheduler puts the
    time it meant the pass for. An event without it (a hand-made one, or Scheduler's default
    notification) is a pass for now."""

    scheduled_time: AwareDatetime | None = Field(default=None, alias="scheduledTime")


# ----------------------------------------------------------------------------- webhooks
class ReceivedWebhook(_Message):
    """A provider webhook as the endpoint received it: its signature covers `headers` and `body`,
    and is checked (with the provider's secret) before anything in it is believed."""

    provider: str
    query: WebhookQuery
    headers: dict[str, str]
    body: bytes
