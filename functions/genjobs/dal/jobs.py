"""Jobs: creation with its credit reservation, reads and listings, start, cancel and settlement.

A job waiting for the sweeper (not started yet, or cancelled with tasks maybe still running at their
provider) carries a mark in the sweep index (gsi2); the methods here set and clear it by intent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from genjobs.dal.credits import CreditRepository, job_entry
from genjobs.dal.dynamo import (
    TableRepository,
    attr,
    cancellation_codes,
    conditionally,
    iso,
    key,
    update,
)
from genjobs.dal.items import (
    COUNT_ATTR,
    SWEEP_CANCELS,
    SWEEP_JOBS,
    job_from_item,
    job_key,
    job_to_item,
    step_attr,
    step_count_attr,
)
from genjobs.dal.timeline import TimelineRepository
from genjobs.models.domain import (
    Job,
    JobStatus,
    LedgerKind,
    Task,
    TaskStatus,
    TimelineEvent,
    retry_tag,
    utcnow,
)
from genjobs.models.persistence import JobAlreadyExists, JobQuery, JobRetry, Page

_SWEEP_MARK = ("gsi2pk", "gsi2sk")
_ACTIVE = {":pending": JobStatus.PENDING.value, ":processing": JobStatus.PROCESSING.value}
_STATUS = {"#s": "status"}


def _shown_as(statuses: frozenset[JobStatus], paused: bool) -> Any:
    """A filter on the status a job is shown with: PAUSED is an active job with `pausedAt`, which
    the active statuses then leave out."""
    active = [s.value for s in statuses if s in {JobStatus.PENDING, JobStatus.PROCESSING}]
    others = [s.value for s in statuses if s.value not in active]
    conditions = []
    if active:
        conditions.append(attr("status").is_in(active) & attr("pausedAt").not_exists())
    if others:
        conditions.append(attr("status").is_in(others))
    if paused:
        conditions.append(attr("status").is_in(list(_ACTIVE.values())) & attr("pausedAt").exists())
    condition = conditions[0]
    for more in conditions[1:]:
        condition = condition | more
    return condition


def finished(job: Job, status: JobStatus, release: int, unstarted_as: TaskStatus, at: datetime) -> Job:
    """The job as `finish` leaves it: ended at `at`, `release` credits refunded, the tasks still
    counted PENDING counted `unstarted_as`."""
    unstarted = job.counts.pending
    counts = job.counts.model_copy(
        update={"pending": 0, unstarted_as.value.lower(): job.counts.get(unstarted_as) + unstarted}
    )
    credits = job.credits.model_copy(update={"refunded": job.credits.refunded + release})
    changes = {"status": status, "finished_at": at, "updated_at": at, "counts": counts, "credits": credits}
    return job.model_copy(update=changes)


class JobRepository(TableRepository):
    def __init__(self, table_name: str) -> None:
        super().__init__(table_name)
        self._credits = CreditRepository(table_name)
        self._timeline = TimelineRepository(table_name)

    def create(self, job: Job, event: TimelineEvent) -> None:
        """Stores the job and reserves its credits atomically; nothing is written on failure."""
        item = job_to_item(job)
        item["gsi2pk"] = SWEEP_JOBS  # until the workflow has started it (the sweeper's safety net)
        item["gsi2sk"] = iso(job.created_at)
        amount = job.credits.reserved
        try:
            self._client.transact_write_items(
                TransactItems=[
                    self.put(item, "attribute_not_exists(pk)"),
                    *self._credits.reserve_ops(job),
                    self.put(self._timeline.event_item(event)),
                ]
            )
        except ClientError as error:
            if refused := self._credits.refused_reservation(error, job, amount):
                raise refused from error
            codes = cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                raise JobAlreadyExists(job.job_id) from error
            raise

    def get(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key=job_key(job_id), ConsistentRead=True).get("Item")
        return job_from_item(item) if item else None

    def of_user(self, user_id: str, query: JobQuery) -> Page[Job]:
        """The user's jobs, newest first, filtered; pages hold up to `query.limit` matching jobs."""
        limit, start, statuses, collection_id = query.limit, query.start, query.statuses, query.collection_id
        condition: Any = None
        if statuses or query.paused:
            condition = _shown_as(statuses or frozenset(), query.paused)
        if collection_id is not None:
            by_collection = attr("collectionId").eq(collection_id)
            condition = by_collection if condition is None else condition & by_collection
        jobs: list[Job] = []
        while True:
            kwargs: dict[str, Any] = {
                "IndexName": "gsi1",
                "KeyConditionExpression": key("gsi1pk").eq(f"USER#{user_id}"),
                "ScanIndexForward": False,
                "Limit": limit - len(jobs),
            }
            if condition is not None:
                kwargs["FilterExpression"] = condition
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self._table.query(**kwargs)
            jobs.extend(job_from_item(i) for i in response["Items"])
            start = response.get("LastEvaluatedKey")
            if not start or len(jobs) >= limit:
                return Page(jobs, start or None)

    def mark_started(self, job_id: str) -> Job | None:
        """PENDING -> PROCESSING once the tasks exist; returns the job (None if it does not exist)."""
        now = iso(utcnow())
        started = conditionally(
            self._table.update_item,
            **update(
                job_key(job_id),
                set={
                    "status": JobStatus.PROCESSING.value,
                    "startedAt": now,
                    "updatedAt": now,
                    "prepared": True,
                },
                remove=_SWEEP_MARK,
                condition="#s = :pending",
                names=_STATUS,
                values={":pending": JobStatus.PENDING.value},
            ),
            ReturnValues="ALL_NEW",
        )
        # Already started, or cancelled before it started: just mark it prepared.
        response = started or conditionally(
            self._table.update_item,
            **update(
                job_key(job_id),
                set={"prepared": True, "updatedAt": now},
                remove=_SWEEP_MARK,
                condition="attribute_exists(pk)",
            ),
            ReturnValues="ALL_NEW",
        )
        return job_from_item(response["Attributes"]) if response else None

    def request_cancel(self, job: Job, event: TimelineEvent) -> Job | None:
        """Active job -> CANCELLING: the job as it now is, or None when it is not active (already
        ending or ended)."""
        at = utcnow()
        now = iso(at)
        cancel = update(
            job_key(job.job_id),
            set={"status": JobStatus.CANCELLING.value, "cancelRequestedAt": now, "updatedAt": now},
            # Marked for the sweeper, which sends the provider cancel of in-flight tasks that no
            # wake-up of their own would reach (webhook waits).
            set_if_absent={"gsi2pk": SWEEP_CANCELS, "gsi2sk": now},
            condition="#s IN (:pending, :processing)",
            names=_STATUS,
            values=_ACTIVE,
        )
        if not self._transact([self.update_op(cancel), self.put(self._timeline.event_item(event))]):
            return None
        return job.model_copy(
            update={"status": JobStatus.CANCELLING, "cancel_requested_at": at, "updated_at": at}
        )

    def cancelling(self, limit: int = 100) -> list[str]:
        """Cancelled jobs whose tasks may still be running at their provider."""
        response = self._table.query(
            IndexName="gsi2", KeyConditionExpression=key("gsi2pk").eq(SWEEP_CANCELS), Limit=limit
        )
        return [i["pk"].removeprefix("JOB#") for i in response["Items"]]

    def clear_cancel_mark(self, job_id: str) -> None:
        """No task of the cancelled job can still be running at its provider."""
        conditionally(
            self._table.update_item,
            **update(
                job_key(job_id),
                remove=_SWEEP_MARK,
                condition="gsi2pk = :mark",
                values={":mark": SWEEP_CANCELS},
            ),
        )

    def not_started(self, older_than: datetime, limit: int = 100) -> list[str]:
        """Jobs created before `older_than` whose workflow has not started them."""
        return self._job_ids_marked(SWEEP_JOBS, older_than, limit)

    def finish(
        self, job: Job, status: JobStatus, release: int, event: TimelineEvent, *, unstarted_as: TaskStatus
    ) -> Job | None:
        """Ends the job and releases what is still reserved for it, exactly once: the job as it now
        is, or None when it had ended already. The tasks still counted PENDING (the workflow ended
        before it wrote them) are counted `unstarted_as`."""
        at = utcnow()
        now = iso(at)
        unstarted = job.counts.pending
        add = {
            "creditsRefunded": release,
            COUNT_ATTR[TaskStatus.PENDING]: -unstarted,
            COUNT_ATTR[unstarted_as]: unstarted,
        }
        for number, (summary, state) in enumerate(zip(job.steps, job.step_states, strict=True)):
            # Each step's share of what is released: its reserved credits neither charged nor refunded.
            add[step_attr(number, "refunded")] = (
                summary.slots * summary.price + state.retried - state.charged - state.refunded
            )
            left = (
                (summary.slots if state.size is None else state.size)
                - state.counts.processing
                - state.counts.terminal
            )
            add[step_count_attr(number, unstarted_as)] = max(0, left)
        end = update(
            job_key(job.job_id),
            set={"status": status.value, "finishedAt": now, "updatedAt": now},
            add=add,
            remove=_SWEEP_MARK,
            condition="#s IN (:pending, :processing, :cancelling)",
            names=_STATUS,
            values={**_ACTIVE, ":cancelling": JobStatus.CANCELLING.value},
        )
        items = [self.update_op(end), self.put(self._timeline.event_item(event))]
        if release:
            # A retried job settles again: each settlement is its own entry.
            what = f"{retry_tag(job.retries)}#SETTLE" if job.retries else "SETTLE"
            items += self._credits.settle_ops(job_entry(job, LedgerKind.RELEASE, release, what=what))
        if not self._transact(items):
            return None
        return finished(job, status, release, unstarted_as, at)

    def mark_event_published(self, job_id: str) -> bool:
        """Claims the job's one completion event; False if it was already claimed."""
        claimed = conditionally(
            self._table.update_item,
            **update(
                job_key(job_id),
                set={"eventPublishedAt": iso(utcnow())},
                condition="attribute_not_exists(eventPublishedAt)",
            ),
        )
        return claimed is not None

    def task_moved_op(
        self, job: Job, index: int, from_status: TaskStatus, to_status: TaskStatus
    ) -> dict[str, Any]:
        """The job's side of a task's transition (dal.tasks): its counts and, when the task ends,
        its price charged (COMPLETED) or refunded (FAILED, CANCELLED, SKIPPED); a pipeline's
        step counters with them."""
        add = {COUNT_ATTR[from_status]: -1, COUNT_ATTR[to_status]: 1}
        price = job.price_of(index)
        money = "Charged" if to_status == TaskStatus.COMPLETED else "Refunded"
        if to_status.terminal:
            add[f"credits{money}"] = price
        if job.steps:
            step = job.step_of(index)
            # A step's PENDING is what is left of its size: only the other statuses are counted.
            if from_status != TaskStatus.PENDING:
                add[step_count_attr(step, from_status)] = -1
            add[step_count_attr(step, to_status)] = 1
            if to_status.terminal:
                add[step_attr(step, money)] = price
        return self.update_op(update(job_key(job.job_id), set={"updatedAt": iso(utcnow())}, add=add))

    def retry_op(self, job: Job, retry: JobRetry) -> dict[str, Any]:
        """The job's side of a retry: an ended job back to PROCESSING (no other retry came first),
        its retried tasks counted PENDING again and their credits added to its reserved ones, marked
        for the sweeper until its workflow's new run has started."""
        add: dict[str, int] = {"creditsReserved": retry.amount, COUNT_ATTR[TaskStatus.PENDING]: 0}
        for task in retry.tasks:
            for name, amount in self._retried_task(job, task):
                add[name] = add.get(name, 0) + amount
        now = iso(utcnow())
        ended = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
        change = update(
            job_key(job.job_id),
            set={
                "status": JobStatus.PROCESSING.value,
                "retries": retry.number,
                "updatedAt": now,
                "gsi2pk": SWEEP_JOBS,
                "gsi2sk": now,
            },
            add=add,
            # It ends, settles and is pushed again.
            remove=("finishedAt", "cancelRequestedAt", "eventPublishedAt"),
            condition="#s IN (:completed, :failed, :cancelled) AND "
            "(attribute_not_exists(retries) OR retries = :previous)",
            names=_STATUS,
            values={f":{s.value.lower()}": s.value for s in ended} | {":previous": retry.number - 1},
        )
        return self.update_op(change)

    @staticmethod
    def _retried_task(job: Job, task: Task) -> list[tuple[str, int]]:
        moves = [(COUNT_ATTR[task.status], -1), (COUNT_ATTR[TaskStatus.PENDING], 1)]
        if job.steps:  # a step's PENDING is what is left of its size: not counted
            step = job.step_of(task.index)
            moves += [
                (step_count_attr(step, task.status), -1),
                (step_attr(step, "retried"), job.price_of(task.index)),
            ]
        return moves

    def resolve_step_size(self, job: Job, step: int, size: int, event: TimelineEvent) -> bool:
        """Fixes a fan-out's size once its items are known: the slots it will not use leave the
        job's tasks and their reserved credits are released, with the size, once (False: already
        fixed)."""
        summary = job.steps[step]
        unused = summary.slots - size
        released = unused * summary.price
        change = update(
            job_key(job.job_id),
            set={step_attr(step, "size"): size, "updatedAt": iso(utcnow())},
            add={
                "taskCount": -unused,
                COUNT_ATTR[TaskStatus.PENDING]: -unused,
                "creditsRefunded": released,
                step_attr(step, "refunded"): released,
            },
            condition=f"attribute_not_exists({step_attr(step, 'size')})",
        )
        items = [self.update_op(change), self.put(self._timeline.event_item(event))]
        if released:
            entry = job_entry(job, LedgerKind.RELEASE, released, what=f"STEP#{step:02d}#UNPLANNED")
            items += self._credits.settle_ops(entry.model_copy(update={"step": summary.name}))
        return self._transact(items)
