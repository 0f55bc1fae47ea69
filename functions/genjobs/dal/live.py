"""The live channel's data: open connections by user, each job's numbered changes, and the posts
to connections through API Gateway's management API.

Items (jobs table): a connection is kept twice, under the connection (`CONN#<id>`: who it is, for
$disconnect and `subscribe`, whose events carry only the connection id) and under its user
(`USER#<u>`/`LIVE#<id>`: whom a change goes to, found by key); a job's changes are
`JOB#<id>`/`LIVE#<seq>` with the job's counter `JOB#<id>`/`LIVESEQ`. None of them is a job, task or
timeline item, so the stream's filter leaves them out and writing them triggers nothing.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from genjobs.dal import aws
from genjobs.dal.dynamo import TableRepository, conditionally, key, update
from genjobs.dal.items import from_dynamo, job_from_item, task_from_item, to_dynamo
from genjobs.models.domain import Job, Task
from genjobs.models.live import Connection, LiveChange
from genjobs.models.persistence import ConnectionGone

# Kept a week: an app that comes back later reads the job itself, not what it missed.
CHANGE_RETENTION_SECONDS = 7 * 24 * 3600
# A connection's items outlive its token by a day at most, should $disconnect never come.
CONNECTION_GRACE_SECONDS = 24 * 3600


def _connection_keys(connection_id: str, user_id: str) -> tuple[dict[str, str], dict[str, str]]:
    return {"pk": f"CONN#{connection_id}", "sk": "CONN"}, {
        "pk": f"USER#{user_id}",
        "sk": f"LIVE#{connection_id}",
    }


def _change_sk(seq: int) -> str:
    return f"LIVE#{seq:010d}"


class LiveRepository(TableRepository):
    @staticmethod
    def stream_item(image: dict[str, Any] | None) -> Job | Task | None:
        """A job or task item as a stream record's image holds it (None: no image)."""
        if image is None:
            return None
        return job_from_item(image) if image["sk"] == "JOB" else task_from_item(image)

    # ---- connections ------------------------------------------------------------------------
    def open(self, connection: Connection) -> None:
        item = to_dynamo(connection.model_dump(mode="json", by_alias=True, exclude_none=True))
        item["expiresAt"] = connection.token_expires_at + CONNECTION_GRACE_SECONDS
        by_connection, by_user = _connection_keys(connection.connection_id, connection.user_id)
        with self._table.batch_writer() as batch:
            batch.put_item(Item=item | by_connection)
            batch.put_item(Item=item | by_user)

    def find(self, connection_id: str) -> Connection | None:
        item = self._table.get_item(Key={"pk": f"CONN#{connection_id}", "sk": "CONN"}).get("Item")
        return None if item is None else Connection.model_validate(from_dynamo(item))

    def subscribe(self, connection: Connection, job_id: str | None) -> None:
        """Narrows (or, with None, widens) what the connection receives."""
        for item_key in _connection_keys(connection.connection_id, connection.user_id):
            params = update(item_key, set={"jobId": job_id}) if job_id else update(item_key, remove=["jobId"])
            conditionally(self._table.update_item, ConditionExpression="attribute_exists(pk)", **params)

    def close(self, connection: Connection) -> None:
        with self._table.batch_writer() as batch:
            for item_key in _connection_keys(connection.connection_id, connection.user_id):
                batch.delete_item(Key=item_key)

    def of_user(self, user_id: str) -> list[Connection]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": key("pk").eq(f"USER#{user_id}") & key("sk").begins_with("LIVE#")
        }
        while True:
            response = self._table.query(**kwargs)
            items += response["Items"]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return [Connection.model_validate(from_dynamo(i)) for i in items]

    # ---- numbered changes -------------------------------------------------------------------
    def number(self, job_id: str, count: int, through_record: str) -> int | None:
        """Takes the job's next `count` numbers for stream records up to `through_record` (their
        sequence number, zero-padded): the first number, or None when these records were numbered
        already (a batch the stream delivers again after a failure is not numbered twice)."""
        params = update(
            {"pk": f"JOB#{job_id}", "sk": "LIVESEQ"},
            add={"seq": count},
            set={"throughRecord": through_record},
            condition="attribute_not_exists(throughRecord) OR throughRecord < :through",
            values={":through": through_record},
        )
        answer = conditionally(self._table.update_item, ReturnValues="UPDATED_NEW", **params)
        return None if answer is None else int(answer["Attributes"]["seq"]) - count + 1

    def keep(self, changes: list[LiveChange], now: int) -> None:
        with self._table.batch_writer() as batch:
            for change in changes:
                item = to_dynamo(change.model_dump(mode="json", by_alias=True, exclude_none=True))
                item |= {"pk": f"JOB#{change.job_id}", "sk": _change_sk(change.seq)}
                batch.put_item(Item=item | {"expiresAt": now + CHANGE_RETENTION_SECONDS})

    def after(self, job_id: str, seq: int, limit: int) -> list[LiveChange]:
        """The job's changes numbered after `seq`, oldest first."""
        response = self._table.query(
            KeyConditionExpression=key("pk").eq(f"JOB#{job_id}")
            & key("sk").between(_change_sk(seq + 1), _change_sk(10**10 - 1)),
            Limit=limit,
        )
        return [LiveChange.model_validate(from_dynamo(i)) for i in response["Items"]]


class LiveSockets:
    """API Gateway's management API of the WebSocket stage: post a frame, close a connection."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    @property
    def _api(self) -> Any:
        return aws.management_client(self.endpoint)

    def post(self, connection_id: str, frame: bytes) -> None:
        try:
            self._api.post_to_connection(ConnectionId=connection_id, Data=frame)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "GoneException":
                raise ConnectionGone(connection_id) from error
            raise

    def close(self, connection_id: str) -> None:
        try:
            self._api.delete_connection(ConnectionId=connection_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "GoneException":
                raise
