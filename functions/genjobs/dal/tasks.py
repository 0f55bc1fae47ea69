"""Tasks: written once a job is prepared, moved through their statuses by conditional transitions.

A transition is one transaction with the job's counts and the task's credits (charged or released
when it ends), conditioned on the task's status: False means someone else moved it first, and
nothing was written. Its timeline event is written once the transaction succeeded, outside it: a
transaction bills each item twice, and the event only describes what the task item already holds.
A webhook task carries a mark in the sweep index (gsi2) with the time its webhook is overdue (the
sweeper's looks follow from it), until it ends. An observation that changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from genjobs.dal.credits import CreditRepository, task_entry
from genjobs.dal.dynamo import TableRepository, attr, cancellation_codes, conditionally, iso, key, update
from genjobs.dal.items import SWEEP_TASKS, task_from_item, task_key, task_to_item, to_dynamo
from genjobs.dal.jobs import JobRepository
from genjobs.dal.slots import HELD_AND_SLOT_ATTRS, SlotRepository
from genjobs.dal.timeline import TimelineRepository
from genjobs.models.domain import Attempt, Job, LedgerKind, Task, TaskStatus, TimelineEvent, retry_tag, utcnow
from genjobs.models.persistence import Accepted, JobRetry, Page, TaskMove
from genjobs.observability import logger

_PROCESSING = {":processing": TaskStatus.PROCESSING.value}
# DynamoDB's bound on the items of one transaction.
_TRANSACTION_ITEMS = 100
# What an attempt wrote on its task: a retry clears it for the next one (its record keeps the rest).
_ATTEMPT_FIELDS = (
    "error",
    "providerId",
    "progress",
    "outputs",
    "result",
    "signal",
    "submittedAt",
    "finishedAt",
    "submitAttempts",
    "pollCount",
    "pollErrors",
    "sweeps",
    "providerCancelledAt",
    "endedBy",
)
_ONLY_PROCESSING = "attribute_exists(pk) AND #s = :processing"


class TaskRepository(TableRepository):
    def __init__(self, table_name: str) -> None:
        super().__init__(table_name)
        self._jobs = JobRepository(table_name)
        self._credits = CreditRepository(table_name)
        self._timeline = TimelineRepository(table_name)
        self._slots = SlotRepository(table_name)

    # ------------------------------------------------------------------ reads
    def put_many(self, tasks: list[Task]) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for task in tasks:
                batch.put_item(Item=task_to_item(task))

    def get(self, job_id: str, index: int) -> Task | None:
        item = self._table.get_item(Key=task_key(job_id, index), ConsistentRead=True).get("Item")
        return task_from_item(item) if item else None

    def page(
        self, job_id: str, *, limit: int, start: dict[str, Any] | None, within: tuple[int, int] | None = None
    ) -> Page[Task]:
        tasks = key("sk").begins_with("TASK#")
        if within is not None:  # a pipeline step's tasks: a contiguous block of indexes
            tasks = key("sk").between(task_key(job_id, within[0])["sk"], task_key(job_id, within[1])["sk"])
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": key("pk").eq(f"JOB#{job_id}") & tasks,
            "Limit": limit,
            "ConsistentRead": True,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._table.query(**kwargs)
        return Page([task_from_item(i) for i in response["Items"]], response.get("LastEvaluatedKey"))

    @staticmethod
    def key_after(job_id: str, index: int) -> dict[str, Any]:
        """The start key `page` returns after task `index`, for a page made of planned tasks."""
        return task_key(job_id, index)

    @staticmethod
    def first_index(job_id: str, start: dict[str, Any] | None) -> int:
        """The index of the first task a `page` from `start` can hold."""
        if start is None:
            return 0
        sk = str(start.get("sk", ""))
        # Cursors are sealed per job's task listing, so anything else here is a bug, not bad input.
        if start.get("pk") != task_key(job_id, 0)["pk"] or not sk.startswith("TASK#"):
            raise ValueError(f"{start!r} is not a start key of job {job_id}'s tasks")
        return int(sk.removeprefix("TASK#")) + 1

    def of_job(self, job_id: str) -> Iterator[Task]:
        start = None
        while True:
            page = self.page(job_id, limit=500, start=start)
            yield from page.items
            if not page.last_key:
                return
            start = page.last_key

    def in_status(self, job_id: str, status: TaskStatus) -> Iterator[Task]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": key("pk").eq(f"JOB#{job_id}") & key("sk").begins_with("TASK#"),
            "FilterExpression": attr("status").eq(status.value),
        }
        while True:
            response = self._table.query(**kwargs)
            yield from (task_from_item(i) for i in response["Items"])
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def webhooks_overdue(
        self, now: datetime, limit: int = 200, wanted: Callable[[datetime], bool] | None = None
    ) -> list[tuple[str, int]]:
        """(job id, task index) of the webhook tasks due for the sweeper by `now` whose due time
        `wanted` accepts (all by default). The index holds keys only: reading it costs little."""
        kwargs: dict[str, Any] = {
            "IndexName": "gsi2",
            "KeyConditionExpression": key("gsi2pk").eq(SWEEP_TASKS) & key("gsi2sk").lte(iso(now)),
        }
        found: list[tuple[str, int]] = []
        while len(found) < limit:
            response = self._table.query(**kwargs)
            for item in response["Items"]:
                if wanted is None or wanted(datetime.fromisoformat(item["gsi2sk"])):
                    found.append((item["pk"].removeprefix("JOB#"), int(item["sk"].removeprefix("TASK#"))))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found[:limit]

    # ------------------------------------------------------------------ transitions
    def mark_submitted(
        self, job: Job, index: int, accepted: Accepted, event: TimelineEvent, attempts: int = 1
    ) -> bool:
        """PENDING -> PROCESSING: the provider accepted the task at its `attempts`-th submission. A
        webhook task keeps the token its webhook answers and is due for the sweeper at `webhook_due`."""
        fields: dict[str, Any] = {
            "providerId": accepted.provider_id,
            "submittedAt": accepted.at.isoformat(),
            "submitAttempts": attempts,
        }
        if accepted.token is not None:
            fields["taskToken"] = accepted.token
        if accepted.webhook_due is not None:
            fields.update({"gsi2pk": SWEEP_TASKS, "gsi2sk": iso(accepted.webhook_due)})
        return self._move(job, index, TaskMove(TaskStatus.PENDING, TaskStatus.PROCESSING, fields), event)

    def end(self, job: Job, index: int, move: TaskMove, event: TimelineEvent) -> bool:
        """Ends a task that is still in `move.from_status`: COMPLETED charges its price, FAILED and
        CANCELLED release it."""
        if not move.to_status.terminal:
            raise ValueError(f"{move.to_status} does not end a task")
        return self._move(job, index, move, event)

    def _move(self, job: Job, index: int, move: TaskMove, event: TimelineEvent) -> bool:
        if not self._transact(self._move_items(job, index, move)):
            if not move.to_status.terminal:
                return False
            # The task's slot may have changed since it was read (admitted, or given back): its end
            # must give back exactly what it holds, so it is read again while it has not moved.
            current = self.get(job.job_id, index)
            if current is None or current.status != move.from_status or current.slot == move.slot:
                return False
            move = replace(move, slot=current.slot)
            if not self._transact(self._move_items(job, index, move)):
                return False
        try:
            self._timeline.add(event)
        except ClientError:
            # The move happened and its caller must go on (answer the waiting token): a lost
            # timeline entry is only a gap in the record, the task item holds the truth.
            logger.warning("timeline event not written", extra={"kind": event.kind}, exc_info=True)
        return True

    def retry(self, job: Job, retry: JobRetry, event: TimelineEvent) -> bool:
        """Runs the retry's tasks again as their next attempt, with the job back to PROCESSING and
        their credits reserved, in one transaction (False, nothing written: the job is no longer
        the ended job that was read). A retry of more tasks than a transaction holds resets the
        rest right after, each reset conditioned on its attempt. Raises InsufficientCredits."""
        resets = [self._reset_op(task, retry) for task in retry.tasks]
        what = f"{retry_tag(retry.number)}"
        first = [
            self._jobs.retry_op(job, retry),
            *self._credits.reserve_ops(job, retry.amount, what),
            self.put(self._timeline.event_item(event)),
        ]
        room = _TRANSACTION_ITEMS - len(first)
        try:
            self._client.transact_write_items(TransactItems=[*first, *resets[:room]])
        except ClientError as error:
            if refused := self._credits.refused_reservation(error, job, retry.amount):
                raise refused from error
            if cancellation_codes(error):  # the job was not the ended job read
                return False
            raise
        for start in range(room, len(resets), _TRANSACTION_ITEMS):
            self._client.transact_write_items(TransactItems=resets[start : start + _TRANSACTION_ITEMS])
        return True

    def _reset_op(self, task: Task, retry: JobRetry) -> dict[str, Any]:
        """A task ended as it was read becomes PENDING as its next attempt, keeping how this one
        ended (at most one record per retry of its job: the job's retries are bounded)."""
        ended = Attempt(
            attempt=task.attempt,
            status=task.status,
            error=task.error,
            providerId=task.provider_id,
            finishedAt=task.finished_at,
        )
        attempts = [
            a.model_dump(mode="json", by_alias=True, exclude_none=True) for a in [*task.attempts, ended]
        ]
        # A task whose input comes from what it depends on is planned again once that has run again.
        replanned = ("plannedAt",) if task.index in retry.replan else ()
        reset = update(
            task_key(task.job_id, task.index),
            set={
                "status": TaskStatus.PENDING.value,
                "attempt": task.attempt + 1,
                "attempts": attempts,
                "updatedAt": iso(utcnow()),
            },
            remove=(*_ATTEMPT_FIELDS, *replanned),
            condition="#s = :was AND (attribute_not_exists(#a) OR #a = :attempt)",
            names={"#s": "status", "#a": "attempt"},
            values={":was": task.status.value, ":attempt": task.attempt},
        )
        return self.update_op(reset)

    def _move_items(self, job: Job, index: int, move: TaskMove) -> list[dict[str, Any]]:
        """The transaction of a move; a task's end also gives back the slot it holds (fair dispatch),
        conditioned on holding exactly that one."""
        from_status, to_status = move.from_status, move.to_status
        now = iso(utcnow())
        sets = {**move.fields, "status": to_status.value, "updatedAt": now}
        removals: tuple[str, ...] = ()
        condition = "#s = :from"
        if to_status.terminal:
            sets["finishedAt"] = now
            removals = ("gsi2pk", "gsi2sk", "taskToken", *HELD_AND_SLOT_ATTRS)
            condition += " AND attribute_exists(slot)" if move.slot else " AND attribute_not_exists(slot)"
        task = update(
            task_key(job.job_id, index),
            set=sets,
            remove=removals,
            condition=condition,
            names={"#s": "status"},
            values={":from": from_status.value},
        )
        items = [self.update_op(task), self._jobs.task_moved_op(job, index, from_status, to_status)]
        if to_status.terminal:
            kind = LedgerKind.CHARGE if to_status == TaskStatus.COMPLETED else LedgerKind.RELEASE
            items += self._credits.settle_ops(
                task_entry(job, index, kind, move.attempt), in_flight=-1 if move.slot else 0
            )
            if move.slot:
                items += self._slots.release_ops(move.slot)
        return items

    # ------------------------------------------------------------------ updates of a running task
    def _update_processing(self, job_id: str, index: int, **changes: Any) -> bool:
        """Updates a task still PROCESSING (False, nothing written, when it is not)."""
        params = update(
            task_key(job_id, index),
            condition=_ONLY_PROCESSING,
            names={"#s": "status"},
            values=_PROCESSING,
            **changes,
        )
        return conditionally(self._table.update_item, **params) is not None

    def claim(self, job_id: str, index: int, task_input: dict[str, Any]) -> bool:
        """Plans a pipeline task once: its input rendered from what it depends on (False: another
        planner claimed it first, or it is no longer PENDING)."""
        claimed = conditionally(
            self._table.update_item,
            **update(
                task_key(job_id, index),
                set={"input": to_dynamo(task_input), "plannedAt": iso(utcnow())},
                condition="#s = :pending AND attribute_not_exists(plannedAt)",
                names={"#s": "status"},
                values={":pending": TaskStatus.PENDING.value},
            ),
        )
        return claimed is not None

    def record_signal(self, job_id: str, index: int, signal: dict[str, Any]) -> bool:
        """Keeps the app's signal on a signal task that has not ended and has none yet."""
        kept = conditionally(
            self._table.update_item,
            **update(
                task_key(job_id, index),
                set={"signal": to_dynamo(signal), "updatedAt": iso(utcnow())},
                # (SIGNAL is a reserved word of DynamoDB's expressions)
                condition="attribute_exists(pk) AND attribute_not_exists(#signal) AND #s IN (:pending, :processing)",
                names={"#s": "status", "#signal": "signal"},
                values={":pending": TaskStatus.PENDING.value, **_PROCESSING},
            ),
        )
        return kept is not None

    def count_submit_attempt(self, job_id: str, index: int) -> None:
        conditionally(
            self._table.update_item,
            **update(
                task_key(job_id, index),
                set={"updatedAt": iso(utcnow())},
                add={"submitAttempts": 1},
                condition="attribute_exists(pk)",
            ),
        )

    def attach_token(self, job_id: str, index: int, token: str) -> bool:
        """The token the webhook of a task already submitted answers now (a redelivered submission)."""
        return self._update_processing(job_id, index, set={"taskToken": token, "updatedAt": iso(utcnow())})

    def record_running(self, task: Task, progress: float | None) -> bool:
        """An observation found `task` (as read before it) still running, with the provider's
        `progress` if it gave one. Written only when it changes the task: a higher progress, or
        consecutive observation errors to reset (pollCount counts the observations written)."""
        fields: dict[str, Any] = {}
        if progress is not None and progress > (task.progress or 0.0):  # a first 0 % says nothing new
            fields["progress"] = progress
        if task.poll_errors:
            fields["pollErrors"] = 0
        if not fields:
            return False
        fields["updatedAt"] = iso(utcnow())
        return self._update_processing(task.job_id, task.index, set=fields, add={"pollCount": 1})

    def record_poll_error(self, job_id: str, index: int) -> bool:
        """An observation of the task failed; consecutive failures are counted until one succeeds."""
        return self._update_processing(
            job_id, index, set={"updatedAt": iso(utcnow())}, add={"pollErrors": 1, "pollCount": 1}
        )

    def sweep_again_at(self, job_id: str, index: int, at: datetime) -> bool:
        """The sweeper found the task overdue and still running: it looks again at `at`."""
        return self._update_processing(
            job_id, index, set={"gsi2sk": iso(at), "updatedAt": iso(utcnow())}, add={"sweeps": 1}
        )

    def claim_provider_cancel(self, job_id: str, index: int) -> bool:
        """True for the one caller that may send this task's provider cancel (polls and the sweeper race)."""
        claimed = conditionally(
            self._table.update_item,
            **update(
                task_key(job_id, index),
                set={"providerCancelledAt": iso(utcnow())},
                condition="attribute_exists(pk) AND attribute_not_exists(providerCancelledAt)",
            ),
        )
        return claimed is not None

    def release_provider_cancel(self, job_id: str, index: int) -> None:
        """The cancel could not be sent: let the next wake-up try again."""
        self._table.update_item(**update(task_key(job_id, index), remove=("providerCancelledAt",)))
