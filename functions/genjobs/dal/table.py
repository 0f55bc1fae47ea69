"""Data access for the jobs table: jobs, tasks, credit accounts, the ledger, timelines, devices.

Every credit movement is one DynamoDB transaction that also moves the task or job it belongs to,
guarded by conditions, so a replayed or concurrent step changes nothing the second time and the
ledger invariant (granted = available + reserved + charged) holds after every transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError

from genjobs.dal import aws
from genjobs.dal.items import (
    COUNT_ATTR,
    SWEEP_CANCELS,
    SWEEP_JOBS,
    SWEEP_TASKS,
    account_key,
    device_key,
    endpoint_owner_key,
    from_dynamo,
    job_from_item,
    job_key,
    job_to_item,
    ledger_key,
    task_from_item,
    task_key,
    task_to_item,
    to_dynamo,
)
from genjobs.models.domain import (
    CreditAccount,
    Device,
    Job,
    JobStatus,
    LedgerEntry,
    LedgerKind,
    Task,
    TaskStatus,
    TimelineEvent,
    utcnow,
)


def _key(name: str) -> Any:
    """boto3's key condition on `name`; boto3 is imported on first use (see dal.aws)."""
    from boto3.dynamodb.conditions import Key

    return Key(name)


def _attr(name: str) -> Any:
    """boto3's attribute condition on `name`."""
    from boto3.dynamodb.conditions import Attr

    return Attr(name)


class InsufficientCredits(Exception):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"{needed} credits needed, {available} available")
        self.needed = needed
        self.available = available


class JobAlreadyExists(Exception):
    pass


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    # DynamoDB's LastEvaluatedKey: where the next page starts (None on the last page). Callers hand
    # it out only sealed (genjobs.logic.cursors), never as is.
    last_key: dict[str, Any] | None


def _conditionally(call: Callable[..., Any], **kwargs: Any) -> bool:
    """Runs a conditional write: False, with nothing written, when its condition did not hold."""
    try:
        call(**kwargs)
    except ClientError as error:
        if _is_conditional_failure(error):
            return False
        raise
    return True


def _is_conditional_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    return code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def _cancellation_codes(error: ClientError) -> list[str]:
    return [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class JobsTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    @property
    def _client(self) -> Any:
        # The resource's client takes and returns plain Python values, transactions included.
        return aws.dynamodb_resource().meta.client

    # ---------------------------------------------------------------- timeline items (shared)
    def _event_item(self, event: TimelineEvent) -> dict[str, Any]:
        item = to_dynamo(event.model_dump(mode="json", by_alias=True, exclude_none=True))
        item["pk"] = f"JOB#{event.job_id}"
        item["sk"] = f"EVENT#{_iso(event.at)}#{uuid.uuid4().hex[:8]}"
        return item

    def _ledger_item(self, entry: LedgerEntry) -> dict[str, Any]:
        item = to_dynamo(entry.model_dump(mode="json", by_alias=True, exclude_none=True))
        item.update(ledger_key(entry.user_id, entry.entry_id))
        return item

    # ---------------------------------------------------------------- credits
    def get_account(self, user_id: str) -> CreditAccount:
        item = self._table.get_item(Key=account_key(user_id), ConsistentRead=True).get("Item")
        if not item:
            return CreditAccount(userId=user_id)
        return CreditAccount.model_validate(from_dynamo(item))

    def grant(self, user_id: str, amount: int, grant_id: str, reason: str | None) -> bool:
        """Adds credits once per grant_id; False when that grant was already applied."""
        now = utcnow()
        entry = LedgerEntry(
            userId=user_id,
            entryId=f"GRANT#{grant_id}",
            kind=LedgerKind.GRANT,
            amount=amount,
            reason=reason,
            at=now,
        )
        return _conditionally(
            self._client.transact_write_items,
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": self._ledger_item(entry),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": account_key(user_id),
                        "UpdateExpression": (
                            "SET userId = :u, granted = if_not_exists(granted, :zero) + :a, "
                            "available = if_not_exists(available, :zero) + :a, "
                            "reserved = if_not_exists(reserved, :zero), charged = if_not_exists(charged, :zero)"
                        ),
                        "ExpressionAttributeValues": {":u": user_id, ":a": amount, ":zero": 0},
                    }
                },
            ],
        )

    def list_ledger(self, user_id: str, limit: int = 100) -> list[LedgerEntry]:
        response = self._table.query(
            KeyConditionExpression=_key("pk").eq(f"USER#{user_id}") & _key("sk").begins_with("LEDGER#"),
            Limit=limit,
        )
        return [LedgerEntry.model_validate(from_dynamo(i)) for i in response["Items"]]

    # ---------------------------------------------------------------- jobs
    def create_job(self, job: Job, event: TimelineEvent) -> None:
        """Stores the job and reserves its credits atomically; nothing is written on failure."""
        amount = job.credits.reserved
        entry = LedgerEntry(
            userId=job.user_id,
            entryId=f"JOB#{job.job_id}#RESERVE",
            kind=LedgerKind.RESERVE,
            amount=amount,
            jobId=job.job_id,
            at=job.created_at,
        )
        item = job_to_item(job)
        item["gsi2pk"] = SWEEP_JOBS  # until the workflow has started it (the sweeper's safety net)
        item["gsi2sk"] = _iso(job.created_at)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": account_key(job.user_id),
                            "UpdateExpression": "SET available = available - :a, reserved = reserved + :a",
                            "ConditionExpression": "available >= :a",
                            "ExpressionAttributeValues": {":a": amount},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": self._ledger_item(entry),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table_name, "Item": self._event_item(event)}},
                ]
            )
        except ClientError as error:
            codes = _cancellation_codes(error)
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                raise InsufficientCredits(amount, self.get_account(job.user_id).available) from error
            if codes and codes[0] == "ConditionalCheckFailed":
                raise JobAlreadyExists(job.job_id) from error
            raise

    def get_job(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key=job_key(job_id), ConsistentRead=True).get("Item")
        return job_from_item(item) if item else None

    def list_jobs(
        self,
        user_id: str,
        *,
        limit: int,
        start: dict[str, Any] | None,
        statuses: frozenset[JobStatus] | None = None,
        collection_id: str | None = None,
    ) -> Page[Job]:
        """The user's jobs, newest first, filtered; pages hold up to `limit` matching jobs."""
        condition: Any = None
        if statuses:
            condition = _attr("status").is_in([s.value for s in statuses])
        if collection_id is not None:
            by_collection = _attr("collectionId").eq(collection_id)
            condition = by_collection if condition is None else condition & by_collection
        jobs: list[Job] = []
        while True:
            kwargs: dict[str, Any] = {
                "IndexName": "gsi1",
                "KeyConditionExpression": _key("gsi1pk").eq(f"USER#{user_id}"),
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

    def mark_job_started(self, job_id: str) -> Job | None:
        """PENDING -> PROCESSING once the tasks exist; returns the job (None if it does not exist)."""
        now = _iso(utcnow())
        try:
            response = self._table.update_item(
                Key=job_key(job_id),
                UpdateExpression="SET #s = :processing, startedAt = :now, updatedAt = :now, prepared = :t "
                "REMOVE gsi2pk, gsi2sk",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":processing": JobStatus.PROCESSING.value,
                    ":pending": JobStatus.PENDING.value,
                    ":now": now,
                    ":t": True,
                },
                ReturnValues="ALL_NEW",
            )
            return job_from_item(response["Attributes"])
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
        # Already started, or cancelled before it started: just mark it prepared.
        try:
            response = self._table.update_item(
                Key=job_key(job_id),
                UpdateExpression="SET prepared = :t, updatedAt = :now REMOVE gsi2pk, gsi2sk",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": True, ":now": now},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                return None
            raise
        return job_from_item(response["Attributes"])

    def request_cancel(self, job_id: str, event: TimelineEvent) -> bool:
        """Active job -> CANCELLING; False if it is not active (already ending or ended)."""
        now = _iso(utcnow())
        return _conditionally(
            self._client.transact_write_items,
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": job_key(job_id),
                        # Marked for the sweeper, which sends the provider cancel of in-flight
                        # tasks that no wake-up of their own would reach (webhook waits).
                        "UpdateExpression": "SET #s = :cancelling, cancelRequestedAt = :now, updatedAt = :now, "
                        "gsi2pk = if_not_exists(gsi2pk, :mark), gsi2sk = if_not_exists(gsi2sk, :now)",
                        "ConditionExpression": "#s IN (:pending, :processing)",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":cancelling": JobStatus.CANCELLING.value,
                            ":pending": JobStatus.PENDING.value,
                            ":processing": JobStatus.PROCESSING.value,
                            ":now": now,
                            ":mark": SWEEP_CANCELS,
                        },
                    }
                },
                {"Put": {"TableName": self.table_name, "Item": self._event_item(event)}},
            ],
        )

    def jobs_cancelling(self, limit: int = 100) -> list[str]:
        response = self._table.query(
            IndexName="gsi2", KeyConditionExpression=_key("gsi2pk").eq(SWEEP_CANCELS), Limit=limit
        )
        return [i["pk"].removeprefix("JOB#") for i in response["Items"]]

    def clear_cancel_mark(self, job_id: str) -> None:
        try:
            self._table.update_item(
                Key=job_key(job_id),
                UpdateExpression="REMOVE gsi2pk, gsi2sk",
                ConditionExpression="gsi2pk = :mark",
                ExpressionAttributeValues={":mark": SWEEP_CANCELS},
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise

    def tasks_in_status(self, job_id: str, status: TaskStatus) -> Iterator[Task]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": _key("pk").eq(f"JOB#{job_id}") & _key("sk").begins_with("TASK#"),
            "FilterExpression": _attr("status").eq(status.value),
        }
        while True:
            response = self._table.query(**kwargs)
            yield from (task_from_item(i) for i in response["Items"])
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def finish_job(
        self, job: Job, status: JobStatus, release: int, event: TimelineEvent, *, unstarted_as: TaskStatus
    ) -> bool:
        """Ends the job and releases what is still reserved for it, exactly once. The tasks still
        counted PENDING (the workflow ended before it wrote them) are counted `unstarted_as`."""
        now = _iso(utcnow())
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": job_key(job.job_id),
                    "UpdateExpression": "SET #s = :final, finishedAt = :now, updatedAt = :now, "
                    f"creditsRefunded = creditsRefunded + :r, "
                    f"{COUNT_ATTR[TaskStatus.PENDING]} = {COUNT_ATTR[TaskStatus.PENDING]} - :unstarted, "
                    f"{COUNT_ATTR[unstarted_as]} = {COUNT_ATTR[unstarted_as]} + :unstarted "
                    "REMOVE gsi2pk, gsi2sk",
                    "ConditionExpression": "#s IN (:pending, :processing, :cancelling)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {
                        ":final": status.value,
                        ":pending": JobStatus.PENDING.value,
                        ":processing": JobStatus.PROCESSING.value,
                        ":cancelling": JobStatus.CANCELLING.value,
                        ":now": now,
                        ":r": release,
                        ":unstarted": job.counts.pending,
                    },
                }
            },
            {"Put": {"TableName": self.table_name, "Item": self._event_item(event)}},
        ]
        if release:
            items += self._release_items(job.user_id, job.job_id, release, "SETTLE", None)
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def mark_event_published(self, job_id: str) -> bool:
        """Claims the job's one completion event; False if it was already claimed."""
        return _conditionally(
            self._table.update_item,
            Key=job_key(job_id),
            UpdateExpression="SET eventPublishedAt = :now",
            ConditionExpression="attribute_not_exists(eventPublishedAt)",
            ExpressionAttributeValues={":now": _iso(utcnow())},
        )

    def jobs_not_started(self, older_than: datetime, limit: int = 100) -> list[str]:
        response = self._table.query(
            IndexName="gsi2",
            KeyConditionExpression=_key("gsi2pk").eq(SWEEP_JOBS) & _key("gsi2sk").lte(_iso(older_than)),
            Limit=limit,
        )
        return [i["pk"].removeprefix("JOB#") for i in response["Items"]]

    # ---------------------------------------------------------------- tasks
    def put_tasks(self, tasks: list[Task]) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for task in tasks:
                batch.put_item(Item=task_to_item(task))

    def get_task(self, job_id: str, index: int) -> Task | None:
        item = self._table.get_item(Key=task_key(job_id, index), ConsistentRead=True).get("Item")
        return task_from_item(item) if item else None

    def list_tasks(self, job_id: str, *, limit: int, start: dict[str, Any] | None) -> Page[Task]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": _key("pk").eq(f"JOB#{job_id}") & _key("sk").begins_with("TASK#"),
            "Limit": limit,
            "ConsistentRead": True,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._table.query(**kwargs)
        return Page([task_from_item(i) for i in response["Items"]], response.get("LastEvaluatedKey"))

    @staticmethod
    def key_after_task(job_id: str, index: int) -> dict[str, Any]:
        """The start key list_tasks returns after task `index`, for a page made of planned tasks."""
        return task_key(job_id, index)

    @staticmethod
    def first_task_index(job_id: str, start: dict[str, Any] | None) -> int:
        """The index of the first task a list_tasks page from `start` can hold."""
        if start is None:
            return 0
        sk = str(start.get("sk", ""))
        # Cursors are sealed per job's task listing, so anything else here is a bug, not bad input.
        if start.get("pk") != task_key(job_id, 0)["pk"] or not sk.startswith("TASK#"):
            raise ValueError(f"{start!r} is not a start key of job {job_id}'s tasks")
        return int(sk.removeprefix("TASK#")) + 1

    def iter_tasks(self, job_id: str) -> Iterator[Task]:
        start = None
        while True:
            page = self.list_tasks(job_id, limit=500, start=start)
            yield from page.items
            if not page.last_key:
                return
            start = page.last_key

    def update_task(
        self,
        job_id: str,
        index: int,
        *,
        set_fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
        add: dict[str, int] | None = None,
        only_if: TaskStatus | None = None,
    ) -> Task | None:
        """Updates fields of a task that has not changed status; None when the condition failed."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": _iso(utcnow())}
        sets = ["updatedAt = :now"]
        for i, (name, value) in enumerate((set_fields or {}).items()):
            names[f"#f{i}"] = name
            values[f":v{i}"] = to_dynamo(value)
            sets.append(f"#f{i} = :v{i}")
        for i, (name, value) in enumerate((add or {}).items()):
            names[f"#a{i}"] = name
            values[f":a{i}"] = value
            sets.append(f"#a{i} = if_not_exists(#a{i}, :zero) + :a{i}")
            values[":zero"] = 0
        expression = "SET " + ", ".join(sets)
        if remove:
            for i, name in enumerate(remove):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        condition = "attribute_exists(pk)"
        if only_if is not None:
            names["#s"] = "status"
            values[":only"] = only_if.value
            condition += " AND #s = :only"
        kwargs: dict[str, Any] = {
            "Key": task_key(job_id, index),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            response = self._table.update_item(**kwargs)
        except ClientError as error:
            if _is_conditional_failure(error):
                return None
            raise
        return task_from_item(response["Attributes"])

    def claim_provider_cancel(self, job_id: str, index: int) -> bool:
        """True for the one caller that may send this task's provider cancel (polls and the sweeper race)."""
        return _conditionally(
            self._table.update_item,
            Key=task_key(job_id, index),
            UpdateExpression="SET providerCancelledAt = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(providerCancelledAt)",
            ExpressionAttributeValues={":now": _iso(utcnow())},
        )

    def release_provider_cancel(self, job_id: str, index: int) -> None:
        """The cancel could not be sent: let the next wake-up try again."""
        self._table.update_item(Key=task_key(job_id, index), UpdateExpression="REMOVE providerCancelledAt")

    def transition_task(
        self,
        job: Job,
        index: int,
        *,
        from_status: TaskStatus,
        to_status: TaskStatus,
        event: TimelineEvent,
        set_fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """Moves a task between statuses with the job's counts and, on a terminal status, its credits.

        COMPLETED charges the task's price; FAILED and CANCELLED release it. All in one transaction,
        conditioned on the task still being in `from_status`: False means someone else moved it first.
        """
        now = _iso(utcnow())
        names = {"#s": "status"}
        values: dict[str, Any] = {":to": to_status.value, ":from": from_status.value, ":now": now}
        sets = ["#s = :to", "updatedAt = :now"]
        if to_status.terminal:
            sets.append("finishedAt = :now")
        for i, (name, value) in enumerate((set_fields or {}).items()):
            names[f"#f{i}"] = name
            values[f":v{i}"] = to_dynamo(value)
            sets.append(f"#f{i} = :v{i}")
        expression = "SET " + ", ".join(sets)
        removals = list(remove)
        if to_status.terminal:
            removals += ["gsi2pk", "gsi2sk", "taskToken"]
        if removals:
            for i, name in enumerate(removals):
                names[f"#r{i}"] = name
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removals)))

        price = job.credits.unit_price
        job_sets = [
            f"{COUNT_ATTR[from_status]} = {COUNT_ATTR[from_status]} - :one",
            f"{COUNT_ATTR[to_status]} = {COUNT_ATTR[to_status]} + :one",
            "updatedAt = :now",
        ]
        if to_status == TaskStatus.COMPLETED:
            job_sets.append("creditsCharged = creditsCharged + :price")
        elif to_status.terminal:
            job_sets.append("creditsRefunded = creditsRefunded + :price")
        job_values: dict[str, Any] = {":one": 1, ":now": now}
        if to_status.terminal:
            job_values[":price"] = price

        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": task_key(job.job_id, index),
                    "UpdateExpression": expression,
                    "ConditionExpression": "#s = :from",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": job_key(job.job_id),
                    "UpdateExpression": "SET " + ", ".join(job_sets),
                    "ExpressionAttributeValues": job_values,
                }
            },
            {"Put": {"TableName": self.table_name, "Item": self._event_item(event)}},
        ]
        if to_status == TaskStatus.COMPLETED:
            items += self._charge_items(job.user_id, job.job_id, index, price)
        elif to_status.terminal:
            items += self._release_items(job.user_id, job.job_id, price, f"TASK#{index:06d}", index)
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise
        return True

    def _charge_items(self, user_id: str, job_id: str, index: int, price: int) -> list[dict[str, Any]]:
        return self._settle_items(user_id, job_id, f"TASK#{index:06d}", index, price, LedgerKind.CHARGE)

    def _release_items(
        self, user_id: str, job_id: str, amount: int, what: str, index: int | None
    ) -> list[dict[str, Any]]:
        return self._settle_items(user_id, job_id, what, index, amount, LedgerKind.RELEASE)

    def _settle_items(
        self, user_id: str, job_id: str, what: str, index: int | None, amount: int, kind: LedgerKind
    ) -> list[dict[str, Any]]:
        """Moves `amount` out of the reserved credits (charged, or back to available) with its ledger
        entry, whose key makes the movement happen once."""
        to = "charged" if kind == LedgerKind.CHARGE else "available"
        entry = LedgerEntry(
            userId=user_id,
            entryId=f"JOB#{job_id}#{what}#{kind.value}",
            kind=kind,
            amount=amount,
            jobId=job_id,
            taskIndex=index,
            at=utcnow(),
        )
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": account_key(user_id),
                    "UpdateExpression": f"SET reserved = reserved - :p, {to} = {to} + :p",
                    "ConditionExpression": "reserved >= :p",
                    "ExpressionAttributeValues": {":p": amount},
                }
            },
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": self._ledger_item(entry),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]

    def tasks_waiting_on_webhooks(self, due_before: datetime, limit: int = 200) -> list[tuple[str, int]]:
        response = self._table.query(
            IndexName="gsi2",
            KeyConditionExpression=_key("gsi2pk").eq(SWEEP_TASKS) & _key("gsi2sk").lte(_iso(due_before)),
            Limit=limit,
        )
        found = []
        for item in response["Items"]:
            job_id = item["pk"].removeprefix("JOB#")
            found.append((job_id, int(item["sk"].removeprefix("TASK#"))))
        return found

    # ---------------------------------------------------------------- timeline
    def add_event(self, event: TimelineEvent) -> None:
        self._table.put_item(Item=self._event_item(event))

    def list_events(self, job_id: str, *, limit: int, start: dict[str, Any] | None) -> Page[TimelineEvent]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": _key("pk").eq(f"JOB#{job_id}") & _key("sk").begins_with("EVENT#"),
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._table.query(**kwargs)
        events = [TimelineEvent.model_validate(from_dynamo(i)) for i in response["Items"]]
        return Page(events, response.get("LastEvaluatedKey"))

    # ---------------------------------------------------------------- webhooks
    def remember_delivery(self, provider: str, delivery_id: str, ttl_seconds: int) -> bool:
        """True the first time a webhook delivery id is seen; False for a replay."""
        expires = int(utcnow().timestamp()) + ttl_seconds
        return _conditionally(
            self._table.put_item,
            Item={"pk": f"WEBHOOK#{provider}#{delivery_id}", "sk": "WEBHOOK", "expiresAt": expires},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def forget_delivery(self, provider: str, delivery_id: str) -> None:
        """A delivery that could not be applied: its retry must not count as a replay."""
        self._table.delete_item(Key={"pk": f"WEBHOOK#{provider}#{delivery_id}", "sk": "WEBHOOK"})

    # ---------------------------------------------------------------- devices and pushes
    def put_device(self, device: Device) -> None:
        item = to_dynamo(device.model_dump(mode="json", by_alias=True))
        item.update(device_key(device.user_id, device.device_id))
        self._table.put_item(Item=item)

    def endpoint_owner(self, endpoint_arn: str) -> Device | None:
        item = self._table.get_item(Key=endpoint_owner_key(endpoint_arn), ConsistentRead=True).get("Item")
        return Device.model_validate(from_dynamo(item)) if item else None

    def hand_over_device(self, device: Device, previous: Device | None) -> bool:
        """Records `device` as the holder of its endpoint and ends `previous` (the endpoint's holder
        read before, possibly another user's device), in one transaction. False, with nothing
        written, when the endpoint changed hands since `previous` was read."""
        item = to_dynamo(device.model_dump(mode="json", by_alias=True))
        owner: dict[str, Any] = {
            "Put": {"TableName": self.table_name, "Item": {**item, **endpoint_owner_key(device.endpoint_arn)}}
        }
        if previous is None:
            owner["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            owner["Put"]["ConditionExpression"] = "userId = :user AND deviceId = :device"
            owner["Put"]["ExpressionAttributeValues"] = {
                ":user": previous.user_id,
                ":device": previous.device_id,
            }
        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {**item, **device_key(device.user_id, device.device_id)},
                }
            },
            owner,
        ]
        if previous is not None and (previous.user_id, previous.device_id) != (
            device.user_id,
            device.device_id,
        ):
            items.append(
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": device_key(previous.user_id, previous.device_id),
                    }
                }
            )
        return _conditionally(self._client.transact_write_items, TransactItems=items)

    def forget_device(self, device: Device) -> None:
        """Ends a device record and, when it still holds its endpoint, the endpoint's holder record."""
        self.delete_device(device.user_id, device.device_id)
        _conditionally(
            self._table.delete_item,
            Key=endpoint_owner_key(device.endpoint_arn),
            ConditionExpression="userId = :user AND deviceId = :device",
            ExpressionAttributeValues={":user": device.user_id, ":device": device.device_id},
        )

    def get_device(self, user_id: str, device_id: str) -> Device | None:
        item = self._table.get_item(Key=device_key(user_id, device_id)).get("Item")
        return Device.model_validate(from_dynamo(item)) if item else None

    def delete_device(self, user_id: str, device_id: str) -> None:
        self._table.delete_item(Key=device_key(user_id, device_id))

    def list_devices(self, user_id: str) -> list[Device]:
        response = self._table.query(
            KeyConditionExpression=_key("pk").eq(f"USER#{user_id}") & _key("sk").begins_with("DEVICE#")
        )
        return [Device.model_validate(from_dynamo(i)) for i in response["Items"]]

    def claim_push(self, job_id: str, device_id: str) -> bool:
        """True once per (job, device): the push is sent at most once even when replayed."""
        return _conditionally(
            self._table.put_item,
            Item={"pk": f"JOB#{job_id}", "sk": f"PUSH#{device_id}", "at": _iso(utcnow())},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def release_push(self, job_id: str, device_id: str) -> None:
        """The claimed push was not sent: the next delivery of the job's event may send it."""
        self._table.delete_item(Key={"pk": f"JOB#{job_id}", "sk": f"PUSH#{device_id}"})
