"""Lambda's SQS event source mapping: poll, invoke with batches, delete what succeeded.

Timing: moto's visibility timeouts and delays run in schedule seconds scaled by TIME_SCALE (see
moto_adjustments). A failed message comes back after the queue's visibility timeout (x TIME_SCALE
wall seconds), counted from the end of its invocation, or after whatever the function set with
ChangeMessageVisibility. moto moves a message to the queue's DLQ on the receive after its
maxReceiveCount-th, as SQS does.

On AWS a message is never delivered again while the invocation that received it runs: the
function's timeout is shorter than the queue's visibility timeout. Locally neither holds by itself
(timeouts are not enforced, and an invocation takes wall seconds while the visibility timeout runs
in scaled ones: 60 s is 1.2 wall seconds at TIME_SCALE 0.02), so a busy stack redelivered messages
that were still being handled, counted receives up to the DLQ, and failed their tasks. So the
poller receives with SQS's longest visibility timeout and, when the invocation ends, gives each
message it did not delete and whose visibility the function did not set the queue's own timeout.
It also takes the invocation's concurrency slot before receiving (see lambda_runtime), so no
message waits for a slot while its visibility timeout runs.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from moto.sqs.models import sqs_backends

from genjobs_local.intrinsics import ACCOUNT_ID, REGION
from genjobs_local.lambda_runtime import ConcurrencyLimit

log = logging.getLogger(__name__)
DEFAULT_CONCURRENCY = 5  # Lambda starts with five pollers; locally that is the cap without ScalingConfig
IN_FLIGHT_VISIBILITY_SECONDS = 43_200  # SQS's longest: a message is not redelivered while it is handled


@dataclass(frozen=True)
class Mapping:
    function: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    max_concurrency: int


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A ReceiveMessage message in the shape of a record of Lambda's SQS event."""
    message_attributes = {}
    for name, attr in message.get("MessageAttributes", {}).items():
        value: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": attr["DataType"]}
        if "StringValue" in attr:
            value["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            value["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()
        message_attributes[name] = value
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_message_ids(result: Any, batch_ids: set[str]) -> set[str] | None:
    """ReportBatchItemFailures: the ids to retry, or None when the response fails the whole batch."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()  # null, {} or an empty list: all succeeded
    failures = result["batchItemFailures"]
    ids = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    if not isinstance(failures, list) or None in ids or "" in ids or not ids <= batch_ids:
        return None  # Lambda treats a malformed response as a failure of the whole batch
    return {str(i) for i in ids}


class SqsPoller:
    def __init__(
        self,
        mapping: Mapping,
        sqs: Any,
        run: Callable[[str, Any], tuple[str, bool]],
        limit: ConcurrencyLimit | None = None,
    ) -> None:
        """`run` invokes the function; `limit` is the runtime's concurrency limit, whose slot the
        poller takes before receiving and `run` then finds taken (None: no limit)."""
        self.mapping = mapping
        self._sqs = sqs
        self._run = run
        self._limit = limit
        queue_name = mapping.queue_arn.rsplit(":", 1)[1]
        self._queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self._queue = sqs_backends[ACCOUNT_ID][REGION].get_queue(queue_name)
        self._stop = threading.Event()
        self._slots = threading.Semaphore(mapping.max_concurrency)  # Lambda's MaximumConcurrency
        self._pool = ThreadPoolExecutor(mapping.max_concurrency, thread_name_prefix=f"sqs-{queue_name}")
        self._busy = 0  # batches being received or handled
        self._lining_up = 0  # of which waiting for a runtime slot or receiving
        self._busy_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"poll-{queue_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    @property
    def busy(self) -> bool:
        """A batch is being received or handled, or the queue holds a message that is visible now."""
        return self._busy > 0 or bool(self._queue.messages)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.1):
                continue
            if not self._messages_for_another_batch():
                self._slots.release()
                continue
            with self._busy_lock:
                self._busy += 1
                self._lining_up += 1
            self._pool.submit(self._batch)

    def _messages_for_another_batch(self) -> bool:
        """Waits a moment for visible messages that no batch lining up will take."""
        # Cheap in-process wait: wakes at once on SendMessage, else re-checks visibility every 20 ms.
        # Nothing is received (an HTTP round trip through moto) while no message is visible: an idle
        # stack spent a third of a core on empty receives.
        self._queue.wait_for_messages(0.02)  # type: ignore[arg-type]  # Condition.wait_for takes floats
        visible = len(self._queue.messages)
        if visible > self._lining_up * self.mapping.batch_size:
            return True
        if visible:
            self._stop.wait(0.02)  # all taken by batches waiting for a slot
        return False

    def _batch(self) -> None:
        """One batch: a runtime slot (waiting in line, like every invocation), receive, invoke.

        Each concurrent batch lines up on its own, so a busy stack gives the mapping its whole
        MaximumConcurrency, as Lambda's pollers have; the slot comes before the receive, so no
        message's visibility timeout runs while it waits."""
        slot = False
        try:
            slot = self._limit is None or self._limit.acquire(cancel=self._stop)
            try:
                messages = self._receive() if slot and self._queue.messages else []
            finally:
                with self._busy_lock:
                    self._lining_up -= 1
            if messages:
                self._handle(messages, self._visible_at(messages))
        finally:
            if slot and self._limit is not None:
                self._limit.release()
            with self._busy_lock:
                self._busy -= 1
            self._slots.release()

    def _receive(self) -> list[dict[str, Any]]:
        try:
            messages: list[dict[str, Any]] = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=self.mapping.batch_size,
                VisibilityTimeout=IN_FLIGHT_VISIBILITY_SECONDS,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception:  # Lambda keeps polling through transient errors
            log.exception("receive from %s failed", self._queue_url)
            return []
        return messages

    def _visible_at(self, messages: list[dict[str, Any]]) -> dict[str, float]:
        """When each message becomes visible again, as moto keeps it (by message id)."""
        ids = {m["MessageId"] for m in messages}
        return {m.id: m.visible_at for m in list(self._queue._messages) if m.id in ids}

    def _invoke(self, event: dict[str, Any]) -> tuple[str, bool]:
        if self._limit is None:
            return self._run(self.mapping.function, event)
        with self._limit.held():
            return self._run(self.mapping.function, event)

    def _handle(self, messages: list[dict[str, Any]], received: dict[str, float]) -> None:
        try:
            event = {"Records": [sqs_record(m, self.mapping.queue_arn) for m in messages]}
            payload, errored = self._invoke(event)
            if errored:
                return  # the whole batch comes back after its visibility timeout
            retry: set[str] | None = set()
            if self.mapping.report_batch_item_failures:
                retry = failed_message_ids(json.loads(payload), {m["MessageId"] for m in messages})
            if retry is None:
                return
            done = [m for m in messages if m["MessageId"] not in retry]
            if done:
                self._sqs.delete_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
        except Exception:  # a poller never dies of one batch
            log.exception("batch from %s failed", self._queue_url)
        finally:
            try:
                self._start_visibility_timeouts(messages, received)
            except Exception:
                log.exception("visibility of a batch from %s not restored", self._queue_url)

    def _start_visibility_timeouts(self, messages: list[dict[str, Any]], received: dict[str, float]) -> None:
        """The messages still queued whose visibility the function left alone get the queue's own
        visibility timeout from now, as if the invocation had taken no time."""
        now = self._visible_at(messages)
        entries = [
            {
                "Id": str(i),
                "ReceiptHandle": m["ReceiptHandle"],
                "VisibilityTimeout": self._visibility_timeout(),
            }
            for i, m in enumerate(messages)
            if m["MessageId"] in now and now[m["MessageId"]] == received.get(m["MessageId"])
        ]
        if entries:
            self._sqs.change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)

    def _visibility_timeout(self) -> int:
        return int(self._queue.visibility_timeout)  # type: ignore[attr-defined]  # set from the attributes
