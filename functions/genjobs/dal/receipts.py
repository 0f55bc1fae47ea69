"""Receipts of provider webhook deliveries: a replayed delivery is recognised and dropped."""

from __future__ import annotations

from typing import Any

from genjobs.dal.dynamo import TableRepository, conditionally
from genjobs.models.domain import utcnow


def _receipt_key(provider: str, delivery_id: str) -> dict[str, Any]:
    return {"pk": f"WEBHOOK#{provider}#{delivery_id}", "sk": "WEBHOOK"}


class ReceiptRepository(TableRepository):
    def remember(self, provider: str, delivery_id: str, ttl_seconds: int) -> bool:
        """True the first time a webhook delivery id is seen; False for a replay."""
        expires = int(utcnow().timestamp()) + ttl_seconds
        written = conditionally(
            self._table.put_item,
            Item={**_receipt_key(provider, delivery_id), "expiresAt": expires},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return written is not None

    def forget(self, provider: str, delivery_id: str) -> None:
        """A delivery that could not be applied: its retry must not count as a replay."""
        self._table.delete_item(Key=_receipt_key(provider, delivery_id))
