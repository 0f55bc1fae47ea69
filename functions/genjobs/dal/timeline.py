"""A job's timeline: what happened to it and its tasks, in order."""

from __future__ import annotations

import uuid
from typing import Any

from genjobs.dal.dynamo import TableRepository, iso, key
from genjobs.dal.items import from_dynamo, to_dynamo
from genjobs.models.domain import TimelineEvent
from genjobs.models.persistence import Page


class TimelineRepository(TableRepository):
    def event_item(self, event: TimelineEvent) -> dict[str, Any]:
        """The item of one event (also written inside the transitions it records)."""
        item = to_dynamo(event.model_dump(mode="json", by_alias=True, exclude_none=True))
        item["pk"] = f"JOB#{event.job_id}"
        item["sk"] = f"EVENT#{iso(event.at)}#{uuid.uuid4().hex[:8]}"
        return item

    def add(self, event: TimelineEvent) -> None:
        self._table.put_item(Item=self.event_item(event))

    def add_many(self, events: list[TimelineEvent]) -> None:
        """Events of many tasks at once (a retry's), 25 to a BatchWriteItem."""
        with self._table.batch_writer() as batch:
            for event in events:
                batch.put_item(Item=self.event_item(event))

    def page(self, job_id: str, *, limit: int, start: dict[str, Any] | None) -> Page[TimelineEvent]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": key("pk").eq(f"JOB#{job_id}") & key("sk").begins_with("EVENT#"),
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = self._table.query(**kwargs)
        events = [TimelineEvent.model_validate(from_dynamo(i)) for i in response["Items"]]
        return Page(events, response.get("LastEvaluatedKey"))
