"""Lambda's DynamoDB stream event source mapping: read the table's stream, filter, invoke in order.

moto keeps a table's stream records (GetRecords serves them) but invokes a stream's mapping inside
the write itself, in the thread that holds the DynamoDB lock (see moto_adjustments): a function
writing to the table there would wait for itself. So the mapping is left to this poller, as Lambda
runs it: one shard read in order, one batch at a time (ParallelizationFactor 1), through the
DynamoDB Streams API signed with the function's role (its stream grants are checked like any call),
the mapping's FilterCriteria applied before the function sees a record (a record no filter matches
is consumed, not delivered), a failed batch retried up to MaximumRetryAttempts then skipped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.events.models import EventPattern

from genjobs_local import iam
from genjobs_local.intrinsics import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)
IDLE_WAIT_SECONDS = 0.01  # how often an idle poller looks at the shard (in-process, no request)


@dataclass(frozen=True)
class StreamMapping:
    function: str
    role_arn: str | None
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "LATEST"
    filters: tuple[str, ...] = ()
    max_retry_attempts: int = -1  # Lambda's default: until the records expire


def event_source_mappings(provisioner: Any, source: Callable[[str], bool]) -> Iterator[dict[str, Any]]:
    """The properties of the template's enabled event source mappings whose source ARN `source` accepts."""
    for logical_id, resource in provisioner.cfn["Resources"].items():
        props = provisioner.properties.get(logical_id)
        if resource["Type"] != "AWS::Lambda::EventSourceMapping" or props is None:
            continue
        if source(str(props["EventSourceArn"])) and props.get("Enabled") is not False:
            yield props


def stream_mappings(provisioner: Any) -> list[StreamMapping]:
    """The template's mappings of DynamoDB streams, with the role of the function they invoke."""
    found = []
    for props in event_source_mappings(provisioner, lambda arn: ":dynamodb:" in arn):
        function = str(props["FunctionName"])
        role = next(
            (p.get("Role") for p in provisioner.properties.values() if p.get("FunctionName") == function),
            None,
        )
        found.append(
            StreamMapping(
                function=function,
                role_arn=role,
                stream_arn=str(props["EventSourceArn"]),
                batch_size=int(props.get("BatchSize", 100)),
                starting_position=str(props.get("StartingPosition", "LATEST")),
                filters=tuple(f["Pattern"] for f in props.get("FilterCriteria", {}).get("Filters", [])),
                max_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            )
        )
    return found


@dataclass
class StreamPoller:
    mapping: StreamMapping
    streams: Any  # a DynamoDB Streams client (signed with the mapping's role while polling)
    run: Callable[[str, Any], tuple[str, bool]]
    delivered: int = 0  # records handed to the function
    _stop: threading.Event = field(default_factory=threading.Event)
    _busy: bool = False
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._patterns = [EventPattern.load(p) for p in self.mapping.filters]
        table_name = self.mapping.stream_arn.split(":table/", 1)[1].split("/", 1)[0]
        self._table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)

    def start(self) -> None:
        with iam.acting_as(self.mapping.role_arn):
            shard = self.streams.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"]
            self._iterator = self.streams.get_shard_iterator(
                StreamArn=self.mapping.stream_arn,
                ShardId=shard["Shards"][0]["ShardId"],
                ShardIteratorType=self.mapping.starting_position,
            )["ShardIterator"]
        self._read = self._written()
        self._thread = threading.Thread(target=self._loop, name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def busy(self) -> bool:
        """A batch is being handled, or the stream holds records not read yet."""
        return self._busy or self._written() > self._read

    def _written(self) -> int:
        shard = self._table.stream_shard
        return 0 if shard is None else shard.starting_sequence_number + len(shard.items)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._written() <= self._read:
                self._stop.wait(IDLE_WAIT_SECONDS)  # nothing new: no GetRecords round trip
                continue
            self._busy = True
            try:
                self._poll()
            except Exception:  # a poller never dies of one batch
                log.exception("stream poll for %s failed", self.mapping.function)
                self._stop.wait(0.1)
            finally:
                self._busy = False

    def _poll(self) -> None:
        with iam.acting_as(self.mapping.role_arn):
            answer = self.streams.get_records(ShardIterator=self._iterator, Limit=self.mapping.batch_size)
        records = answer["Records"]
        if records:
            batch = [r for r in (self._lambda_record(r) for r in records) if self._matches(r)]
            if batch:
                self._invoke(batch)
            self._read = max(int(r["dynamodb"]["SequenceNumber"]) for r in records) + 1
        self._iterator = answer["NextShardIterator"]

    def _invoke(self, batch: list[dict[str, Any]]) -> None:
        attempts = 0
        while not self._stop.is_set():
            _, errored = self.run(self.mapping.function, {"Records": batch})
            if not errored:
                self.delivered += len(batch)
                return
            attempts += 1
            if 0 <= self.mapping.max_retry_attempts < attempts:
                log.warning("stream batch of %d records skipped after %d attempts", len(batch), attempts)
                return

    def _matches(self, record: dict[str, Any]) -> bool:
        return not self._patterns or any(p.matches_event(record) for p in self._patterns)  # type: ignore[arg-type]  # any JSON object

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A GetRecords record as Lambda's DynamoDB event holds it."""
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        lambda_record = dict(record, dynamodb=change)
        lambda_record |= {"awsRegion": REGION, "eventSourceARN": self.mapping.stream_arn}
        return json.loads(json.dumps(lambda_record, default=str))


def stream_mappings_do_not_fire_on_write() -> None:
    """moto invokes a stream's mappings inside the write; the stack's StreamPoller runs them."""
    from moto.awslambda.models import EventSourceMapping, LambdaBackend

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
        mapping = original(self, spec)
        for account in dynamodb_backends.values():
            for backend in account.values():
                for table in backend.tables.values():
                    table.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]
