"""SQS fair queues, which moto does not have: it delivers a standard queue's messages in the order
they were sent, whatever their MessageGroupId.

What AWS documents ("How Amazon SQS fair queues work", SQS Developer Guide): a standard queue's
tenants are its messages' MessageGroupId (a message without one is a tenant of its own). A tenant is
noisy when it holds more than 10 % of the queue's in-flight messages and at least 30 of its own, or
more than 10 % of the consumers' recent processing time (both approximate). While a noisy tenant's
messages wait, the quiet tenants' messages are delivered first, and among noisy tenants the one with
the fewest in flight first; a noisy tenant's messages are never dropped or throttled, and are
delivered as usual when no quiet tenant's wait.

Here each receive orders the visible messages so: quiet tenants' first, then noisy ones by fewest in
flight, in the order they were sent otherwise. A message's processing time runs from its receive to
its deletion or to the consumer setting its visibility (a retry); the recent time is the last
RECENT_SECONDS of wall time (AWS does not say how recent). What AWS does beyond this is not emulated:
the detection's own delay and imprecision, and its 5-minute rule for a tenant that stops sending.
FIFO queues keep moto's own order (a group is delivered one message at a time there).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.sqs.exceptions import InvalidParameterValue
from moto.sqs.models import Message, SQSBackend
from moto.sqs.models import Queue as SqsQueue

RECENT_SECONDS = 60.0
CONCURRENCY_SHARE, CONCURRENCY_LEAST, TIME_SHARE = 0.10, 30, 0.10
# SQS's MessageGroupId: 1 to 128 alphanumeric or punctuation characters.
_GROUP_ID = re.compile(r"[\x21-\x7e]{1,128}")

_receiving = threading.local()


@dataclass
class _Receipt:
    message: Message
    started: float
    ended: float | None = None

    def end(self, handle: str, now: float) -> float:
        """When its processing ended, or now while it goes on: a message visible again or received
        again (its consumer let it go without a word) ended when it became visible."""
        if self.ended is None and self.message.receipt_handle != handle:
            self.ended = now
        elif self.ended is None and self.message.visible:
            self.ended = min(now, self.message.visible_at / 1000)
        return now if self.ended is None else self.ended


class _Tenants:
    """A queue's receipts of the recent past, by receipt handle, for its tenants' processing time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.receipts: dict[str, _Receipt] = {}
        self.order: deque[str] = deque()

    def received(self, handle: str, message: Message, now: float) -> None:
        with self.lock:
            self.receipts[handle] = _Receipt(message, now)
            self.order.append(handle)

    def let_go(self, handle: str, now: float) -> None:
        with self.lock:
            receipt = self.receipts.get(handle)
            if receipt is not None and receipt.ended is None:
                receipt.ended = now

    def time_shares(self, now: float) -> dict[str | None, float]:
        """Each tenant's share of the processing time of the last RECENT_SECONDS."""
        since = now - RECENT_SECONDS
        spent: defaultdict[str | None, float] = defaultdict(float)
        with self.lock:
            for handle, receipt in self.receipts.items():
                ended = receipt.end(handle, now)
                spent[receipt.message.group_id] += max(0.0, ended - max(receipt.started, since))
            while self.order and self._over(self.order[0], since):
                self.receipts.pop(self.order.popleft(), None)
        total = sum(spent.values())
        return {group: seconds / total for group, seconds in spent.items()} if total else {}

    def _over(self, handle: str, since: float) -> bool:
        receipt = self.receipts.get(handle)
        return receipt is None or (receipt.ended is not None and receipt.ended < since)


_tenants_lock = threading.Lock()


def _of(queue: SqsQueue) -> _Tenants:
    with _tenants_lock:
        tenants: _Tenants = queue.__dict__.setdefault("_fair_tenants", _Tenants())
        return tenants


def fair_order(queue: SqsQueue, visible: list[Message], now: float) -> list[Message]:
    """`visible` as a fair queue delivers it: quiet tenants first, then noisy ones by fewest in flight."""
    if not any(m.group_id for m in visible):
        return visible
    in_flight = Counter(m.group_id for m in queue._messages if not m.visible)
    total = sum(in_flight.values())
    shares = _of(queue).time_shares(now)

    def rank(message: Message) -> tuple[int, int]:
        group = message.group_id
        if group is None:  # a tenant of its own
            return (0, 0)
        held = in_flight[group]
        noisy = (held > CONCURRENCY_SHARE * total and held >= CONCURRENCY_LEAST) or shares.get(
            group, 0.0
        ) > TIME_SHARE
        return (1, held) if noisy else (0, 0)

    return sorted(visible, key=rank)  # stable: the sent order within a rank


def install() -> None:
    visible_messages: Callable[[SqsQueue], list[Message]] = SqsQueue.messages.fget  # type: ignore[attr-defined]
    original_receive = SQSBackend.receive_message
    original_delete = SqsQueue.delete_message
    original_visibility = SQSBackend.change_message_visibility
    original_send = SQSBackend.send_message

    def messages(self: SqsQueue) -> list[Message]:
        visible = visible_messages(self)
        if getattr(_receiving, "queue", None) is not self or self.fifo_queue:
            return visible
        return fair_order(self, visible, time.time())

    def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> list[Message]:
        queue = self.get_queue(queue_name)
        _receiving.queue = queue  # only a receive sees the fair order; counts and waits do not
        try:
            received: list[Message] = original_receive(self, queue_name, *args, **kwargs)
        finally:
            _receiving.queue = None
        if received and not queue.fifo_queue:
            now, kept = time.time(), {m.id: m for m in queue._messages}  # received: copies
            for message in received:
                if message.id in kept:
                    _of(queue).received(str(message.receipt_handle), kept[message.id], now)
        return received

    def delete_message(self: SqsQueue, receipt_handle: str) -> None:
        original_delete(self, receipt_handle)
        _of(self).let_go(receipt_handle, time.time())

    def change_message_visibility(
        self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        original_visibility(self, queue_name, receipt_handle, visibility_timeout)
        _of(self.get_queue(queue_name)).let_go(receipt_handle, time.time())

    def send_message(
        self: SQSBackend, queue_name: str, message_body: str, *args: Any, **kwargs: Any
    ) -> Message:
        group = kwargs.get("group_id")
        if group is not None and not _GROUP_ID.fullmatch(group):
            raise InvalidParameterValue(
                f"Value {group} for parameter MessageGroupId is invalid. Reason: MessageGroupId can only "
                "include alphanumeric and punctuation characters. 1 to 128 in length."
            )
        return original_send(self, queue_name, message_body, *args, **kwargs)

    SqsQueue.messages = property(messages)  # type: ignore[assignment,method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    SqsQueue.delete_message = delete_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
