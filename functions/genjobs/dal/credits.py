"""Credit accounts and their ledger.

Every movement of a job's credits is written in the same transaction as the job or task it belongs
to (dal.jobs, dal.tasks compose the items built here), guarded by conditions, so a replayed or
concurrent step changes nothing the second time and granted = available + reserved + charged holds
after every transaction.
"""

from __future__ import annotations

from typing import Any

from genjobs.dal.dynamo import TableRepository, key, update
from genjobs.dal.items import account_key, from_dynamo, ledger_key, to_dynamo
from genjobs.models.domain import CreditAccount, LedgerEntry, LedgerKind, utcnow


class CreditRepository(TableRepository):
    def account(self, user_id: str) -> CreditAccount:
        item = self._table.get_item(Key=account_key(user_id), ConsistentRead=True).get("Item")
        if not item:
            return CreditAccount(userId=user_id)
        return CreditAccount.model_validate(from_dynamo(item))

    def grant(self, user_id: str, amount: int, grant_id: str, reason: str | None) -> bool:
        """Adds credits once per grant_id; False when that grant was already applied."""
        entry = LedgerEntry(
            userId=user_id,
            entryId=f"GRANT#{grant_id}",
            kind=LedgerKind.GRANT,
            amount=amount,
            reason=reason,
            at=utcnow(),
        )
        account = update(
            account_key(user_id),
            set={"userId": user_id},
            set_if_absent={"reserved": 0, "charged": 0},
            add={"granted": amount, "available": amount},
        )
        return self._transact([self._entry_put(entry), self.update_op(account)])

    def ledger(self, user_id: str, limit: int = 100) -> list[LedgerEntry]:
        response = self._table.query(
            KeyConditionExpression=key("pk").eq(f"USER#{user_id}") & key("sk").begins_with("LEDGER#"),
            Limit=limit,
        )
        return [LedgerEntry.model_validate(from_dynamo(i)) for i in response["Items"]]

    # ------------------------------------------------------------ items of other aggregates' transactions
    def _entry_put(self, entry: LedgerEntry) -> dict[str, Any]:
        """The ledger entry, written once: its key makes the movement happen once."""
        item = to_dynamo(entry.model_dump(mode="json", by_alias=True, exclude_none=True))
        item.update(ledger_key(entry.user_id, entry.entry_id))
        return self.put(item, "attribute_not_exists(pk)")

    def reserve_ops(self, user_id: str, job_id: str, amount: int, at: Any) -> list[dict[str, Any]]:
        """Moves `amount` from available to reserved for a job; the account's Update comes first
        and fails its condition when too few credits are available."""
        entry = LedgerEntry(
            userId=user_id,
            entryId=f"JOB#{job_id}#RESERVE",
            kind=LedgerKind.RESERVE,
            amount=amount,
            jobId=job_id,
            at=at,
        )
        account = update(
            account_key(user_id),
            add={"available": -amount, "reserved": amount},
            condition="available >= :need",
            values={":need": amount},
        )
        return [self.update_op(account), self._entry_put(entry)]

    def settle_ops(
        self, user_id: str, job_id: str, what: str, index: int | None, amount: int, kind: LedgerKind
    ) -> list[dict[str, Any]]:
        """Moves `amount` out of the reserved credits (CHARGE: to charged; RELEASE: back to
        available) with its ledger entry, whose key makes the movement happen once."""
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
        account = update(
            account_key(user_id),
            add={"reserved": -amount, to: amount},
            condition="reserved >= :p",
            values={":p": amount},
        )
        return [self.update_op(account), self._entry_put(entry)]
