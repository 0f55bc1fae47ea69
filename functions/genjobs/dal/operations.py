"""Operators' bulk operations: the operation's record and progress, the claims that make it handle
each job and each page once, the jobs a filter matches (a Scan: an operator's rare action, paged),
and the queue its pages go through."""

from __future__ import annotations

from typing import Any

from genjobs.dal import aws
from genjobs.dal.dynamo import TableRepository, attr, iso, update
from genjobs.dal.items import from_dynamo, job_from_item, to_dynamo
from genjobs.models.domain import Job, JobFilter, Operation, utcnow
from genjobs.models.messages import BulkPage
from genjobs.models.persistence import Page


def _key(operation_id: str, what: str = "OPERATION") -> dict[str, str]:
    return {"pk": f"OPERATION#{operation_id}", "sk": what}


def _matching(job_filter: JobFilter) -> Any:
    condition = attr("sk").eq("JOB")
    if job_filter.status:
        condition &= attr("status").is_in([s.value for s in job_filter.status])
    if job_filter.provider is not None:
        condition &= attr("provider").eq(job_filter.provider)
    if job_filter.model is not None:
        condition &= attr("model").eq(job_filter.model)
    # Stored as the API writes them (ISO 8601, UTC): their order is their text's.
    if job_filter.created_from is not None:
        condition &= attr("createdAt").gte(job_filter.created_from.isoformat().replace("+00:00", "Z"))
    if job_filter.created_to is not None:
        condition &= attr("createdAt").lt(job_filter.created_to.isoformat().replace("+00:00", "Z"))
    return condition


class OperationRepository(TableRepository):
    def create(self, operation: Operation) -> None:
        item = to_dynamo(operation.model_dump(mode="json", by_alias=True, exclude_none=True))
        self._table.put_item(Item={**item, **_key(operation.operation_id)})

    def get(self, operation_id: str) -> Operation | None:
        item = self._table.get_item(Key=_key(operation_id), ConsistentRead=True).get("Item")
        return Operation.model_validate(from_dynamo(item)) if item else None

    def matching_jobs(self, job_filter: JobFilter, start: dict[str, Any] | None, scanned: int) -> Page[Job]:
        """The jobs among the next `scanned` items of the table that the filter matches."""
        kwargs: dict[str, Any] = {"FilterExpression": _matching(job_filter), "Limit": scanned}
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._table.scan(**kwargs)
        return Page([job_from_item(i) for i in response["Items"]], response.get("LastEvaluatedKey"))

    def count_jobs(self, job_filter: JobFilter) -> int:
        kwargs: dict[str, Any] = {"FilterExpression": _matching(job_filter), "Select": "COUNT"}
        count = 0
        while True:
            response = self._table.scan(**kwargs)
            count += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return count
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def claim(self, operation_id: str, what: str) -> bool:
        """True once per (operation, what): a job it handles, a page it finished."""
        return self._put_once(_key(operation_id, what))

    def count(self, operation_id: str, outcome: str) -> None:
        """One more job `done` or `skipped`."""
        self._table.update_item(**update(_key(operation_id), add={outcome: 1}))

    def finish(self, operation_id: str) -> None:
        self._table.update_item(
            **update(_key(operation_id), set={"status": "DONE", "finishedAt": iso(utcnow())})
        )


class BulkQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send_page(self, page: BulkPage) -> None:
        aws.client("sqs").send_message(
            QueueUrl=self.queue_url, MessageBody=page.model_dump_json(by_alias=True)
        )
