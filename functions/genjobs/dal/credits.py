"""Credit accounts and their ledger.

Every movement of a job's credits is written in the same transaction as the job or task it belongs
to (dal.jobs, dal.tasks compose the items built here), guarded by conditions, so a replayed or
concurrent step changes nothing the second time and granted = available + reserved + charged holds
after every transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from genjobs.dal.dynamo import TableRepository, cancellation_codes, key, update
from genjobs.dal.items import account_key, from_dynamo, ledger_key, to_dynamo
from genjobs.models.domain import CreditAccount, Job, LedgerEntry, LedgerKind, utcnow
from genjobs.models.persistence import InsufficientCredits


def grant_entry(user_id: str, grant_id: str, amount: int, reason: str | None) -> LedgerEntry:
    """The entry of a grant: its id makes a grant count once."""
    return _entry(user_id, f"GRANT#{grant_id}", LedgerKind.GRANT, amount, reason=reason)


def job_entry(
    job: Job, kind: LedgerKind, amount: int, *, what: str | None = None, index: int | None = None
) -> LedgerEntry:
    """The entry of a movement of a job's credits: reserved once (at its creation), then released
    or charged once per `what` (a task, or the settlement)."""
    if kind == LedgerKind.RESERVE and what is None:
        return _entry(
            job.user_id, f"JOB#{job.job_id}#RESERVE", kind, amount, at=job.created_at, jobId=job.job_id
        )
    entry_id = f"JOB#{job.job_id}#{what}#{kind.value}"
    return _entry(job.user_id, entry_id, kind, amount, jobId=job.job_id, taskIndex=index)


def task_entry(job: Job, index: int, kind: LedgerKind, attempt: int = 1) -> LedgerEntry:
    """The charge or release of one attempt of a task at its price (a pipeline's: its step's, named
    on the entry). A later attempt is a movement of its own: its id names the attempt."""
    what = f"TASK#{index:06d}" if attempt == 1 else f"TASK#{index:06d}#ATTEMPT#{attempt:02d}"
    entry = job_entry(job, kind, job.price_of(index), what=what, index=index)
    if job.steps:
        entry = entry.model_copy(update={"step": job.steps[job.step_of(index)].name})
    return entry


def _entry(
    user_id: str, entry_id: str, kind: LedgerKind, amount: int, *, at: datetime | None = None, **about: Any
) -> LedgerEntry:
    # Stamped now, unless the movement has its own time (a reservation: the job's creation).
    return LedgerEntry(userId=user_id, entryId=entry_id, kind=kind, amount=amount, at=at or utcnow(), **about)


class CreditRepository(TableRepository):
    def account(self, user_id: str) -> CreditAccount:
        item = self._table.get_item(Key=account_key(user_id), ConsistentRead=True).get("Item")
        if not item:
            return CreditAccount(userId=user_id)
        return CreditAccount.model_validate(from_dynamo(item))

    def grant(self, user_id: str, amount: int, grant_id: str, reason: str | None) -> bool:
        """Adds credits once per grant_id; False when that grant was already applied."""
        account = update(
            account_key(user_id),
            set={"userId": user_id},
            set_if_absent={"reserved": 0, "charged": 0},
            add={"granted": amount, "available": amount},
        )
        entry = grant_entry(user_id, grant_id, amount, reason)
        return self._transact([self._entry_put(entry), self.update_op(account)])

    def set_plan(self, user_id: str, plan: str | None) -> None:
        """Assigns the plan (None: back to the default) on the account, created if absent; the
        credits on it are left as they are."""
        self._table.update_item(
            **update(
                account_key(user_id),
                set={"userId": user_id, **({"plan": plan} if plan else {})},
                remove=() if plan else ("plan",),
            )
        )

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

    def reserve_ops(
        self, job: Job, amount: int | None = None, what: str | None = None
    ) -> list[dict[str, Any]]:
        """Moves the job's reserved credits (or `amount` more, reserved for `what`: a retry) from
        available to reserved; the account's Update comes first and fails its condition when too
        few credits are available."""
        amount = job.credits.reserved if amount is None else amount
        account = update(
            account_key(job.user_id),
            add={"available": -amount, "reserved": amount},
            condition="available >= :need",
            values={":need": amount},
        )
        return [
            self.update_op(account),
            self._entry_put(job_entry(job, LedgerKind.RESERVE, amount, what=what)),
        ]

    def refused_reservation(self, error: ClientError, job: Job, amount: int) -> InsufficientCredits | None:
        """What a transaction holding `reserve_ops` second (after its own first item) failed on,
        when it was the reservation: too few credits available."""
        codes = cancellation_codes(error)
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            return InsufficientCredits(amount, self.account(job.user_id).available)
        return None

    def settle_ops(self, entry: LedgerEntry, in_flight: int = 0) -> list[dict[str, Any]]:
        """Moves the entry's amount out of the reserved credits (CHARGE: to charged; RELEASE: back
        to available) with the entry, whose key makes the movement happen once. `in_flight`: a
        task's end also gives back its user's place (-1) on the same account item."""
        to = "charged" if entry.kind == LedgerKind.CHARGE else "available"
        moves = {"reserved": -entry.amount, to: entry.amount}
        if in_flight:
            moves.update(inFlight=in_flight, slotRev=1)  # dal.slots.REVISION
        account = update(
            account_key(entry.user_id),
            add=moves,
            condition="reserved >= :p",
            values={":p": entry.amount},
        )
        return [self.update_op(account), self._entry_put(entry)]
