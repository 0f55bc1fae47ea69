"""What the data access ports take and give besides the domain models: a page of items, a query of
jobs, a task's move and a provider's acceptance, and the outcomes a store reports by name.

Both sides of each port use them: the logic (genjobs.logic.ports) and the boto3 repositories
(genjobs.dal) and in-memory fakes that implement it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from genjobs.models.domain import JobStatus, Task, TaskSlot, TaskStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    # DynamoDB's LastEvaluatedKey: where the next page starts (None on the last page). Callers hand
    # it out only sealed (genjobs.logic.cursors), never as is.
    last_key: dict[str, Any] | None


class InsufficientCredits(Exception):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"{needed} credits needed, {available} available")
        self.needed = needed
        self.available = available


class JobAlreadyExists(Exception):
    pass


@dataclass(frozen=True)
class JobQuery:
    """A page of a user's jobs: up to `limit` from `start`, of these statuses and collection (any
    when None)."""

    limit: int
    start: dict[str, Any] | None = None
    statuses: frozenset[JobStatus] | None = None
    collection_id: str | None = None
    # Also the paused jobs (shown PAUSED); `statuses` then leave out their active paused jobs.
    paused: bool = False


@dataclass(frozen=True)
class TaskMove:
    """A transition of one task: from the status it must still be in, to the next, with what it
    writes on the task."""

    from_status: TaskStatus
    to_status: TaskStatus
    fields: dict[str, Any] = field(default_factory=dict)
    # The task's attempt: its charge or release is that attempt's ledger entry (a replay moves nothing).
    attempt: int = 1
    # The slot the task was read holding (fair dispatch): an end gives it back in its transaction.
    slot: TaskSlot | None = None


@dataclass(frozen=True)
class Accepted:
    """A provider's acceptance of a task: its id there, when, and for a webhook task the token its
    webhook answers and when the sweeper should look at it."""

    provider_id: str
    at: datetime
    token: str | None = None
    webhook_due: datetime | None = None


class QueueUnavailable(Exception):
    """A message could not be sent (SQS refused it, or could not be reached)."""


class EndpointGone(Exception):
    """The device's push endpoint is disabled or deleted: the device should be forgotten."""


class AppFunctionFailed(Exception):
    """An app function raised (Lambda's FunctionError), returned an answer that is not an
    AppFunctionResult, or may not be invoked: the task fails with `message`."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}" if error_type else message)
        self.error_type = error_type
        self.message = message


class AppFunctionTimedOut(AppFunctionFailed):
    """An app function ran past its timeout (or past the time its caller could wait for it)."""


class AppFunctionThrottled(Exception):
    """Lambda would not run the app function now (throttled, or briefly unavailable): retry later,
    the task has not failed."""


@dataclass(frozen=True)
class JobRetry:
    """A retry of an ended job: its number (the job's retries once it is made), the tasks it runs
    again as they were read (each becomes PENDING as its next attempt), those of them whose input is
    rendered again from what they depend on (a pipeline's), and the credits reserved for them."""

    number: int
    tasks: list[Task]
    replan: frozenset[int]
    amount: int


# ----------------------------------------------------------------------------- fair dispatch
@dataclass(frozen=True)
class Held:
    """A task waiting for a slot (in its provider's pool) or for its job to continue: who, since when,
    at what plan priority. Its callback token stays on the task item."""

    job_id: str
    index: int
    user_id: str
    priority: int
    since: datetime


@dataclass(frozen=True)
class PoolState:
    """A pool's counters as last written: tasks in flight, creates in the current minute, the
    time a provider's 429 asked us to wait until, and (a provider's) tasks held for a slot."""

    in_flight: int = 0
    held: int = 0
    rate_window: str | None = None
    rate_count: int = 0
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class Limit:
    """One scope's limit a task is admitted into ("provider" or "provider/model")."""

    scope: str
    concurrency: int | None = None
    rate_per_minute: int | None = None
    # Of `concurrency`, the places only a user with nothing in flight may take.
    reserve: int = 0

    def places_for(self, newcomer: bool) -> int | None:
        """The places of this limit a task may be counted into: all of them for a user with
        nothing in flight, all but the reserve for the others."""
        if self.concurrency is None:
            return None
        return self.concurrency if newcomer else self.concurrency - self.reserve


@dataclass(frozen=True)
class Admission:
    """What an admission needs: the task, its user and plan limit, the limited scopes it takes a
    place in, and the time (for rate windows and blocks)."""

    job_id: str
    index: int
    user_id: str
    max_in_flight: int
    limits: tuple[Limit, ...]
    at: datetime
    provider: str
    priority: int = 0
    # The rate window `at` counts in (a provider's creates per minute, in schedule time).
    window: str = ""
    # Set by the dispatcher: the hold it releases (the task must still be held so).
    held: Held | None = None
    # The user had nothing in flight (as read): it may take a limit's reserved places, on the
    # condition that it still has nothing in flight when the admission is written.
    newcomer: bool = False

    def takes_reserved(self, pools: dict[str, PoolState]) -> bool:
        """Whether this admission counts into a limit's reserved places, as `pools` were read: only
        a newcomer, and only where the other places are taken (elsewhere it is admitted as anyone,
        so that its job's tasks arriving at once are not refused as the same newcomer's)."""
        return self.newcomer and any(
            limit.reserve
            and limit.concurrency is not None
            and pools.get(limit.scope, PoolState()).in_flight >= limit.concurrency - limit.reserve
            for limit in self.limits
        )


class Refused(Exception):
    """An admission's transaction was refused: `what` is "task" (no longer waiting: ended, or
    admitted by another pass), "user" (plan limit reached) or the scope whose limit was reached."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class InvalidToken(Exception):
    """A user's token that is forged, expired, or for another issuer or audience."""


class ConnectionGone(Exception):
    """A live connection that is closed already (API Gateway's GoneException)."""
