"""Fair dispatch's state: slots taken and given back, tasks held for one, pools' counters.

A task admitted holds a `slot` (its user's account counts it in `inFlight`, each limited pool item
`POOL#<scope>` too) from its admission to its end, and is listed in gsi1 under `SLOT#<provider>` so
that the counters can be recounted. A task waiting for a slot keeps its callback token
(`heldToken`) and is listed in the sparse gsi2: under `HOLD#<provider>` ordered by when it began to
wait (its plan priority and user in the sort key, which the index projects alone), or under
`PARKED` by job while its job is paused. Every write is conditioned on the task's state, so
concurrent passes and redeliveries take or give back a slot once. The provider's pool item counts
the tasks held in its pool (`held`, in the transactions that hold and admit them), so that a task's
end and an arrival know without a query whether anything waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from genjobs.dal.dynamo import (
    TableRepository,
    cancellation_codes,
    conditionally,
    is_conditional_failure,
    iso,
    update,
)
from genjobs.dal.dynamo import key as key_condition
from genjobs.dal.items import account_key, from_dynamo, task_key
from genjobs.models.domain import TaskSlot, TaskStatus
from genjobs.models.persistence import Admission, Held, Limit, PoolState, Refused

PARKED = "PARKED"
_HELD_ATTRS = ("gsi2pk", "gsi2sk", "heldToken", "heldBeatAt")
_SLOT_ATTRS = ("slot", "gsi1pk", "gsi1sk")
# Added to by every admission and release on the counters' items, so that a recount sets a counter
# only if nothing moved it while the slots were counted.
REVISION = "slotRev"
# On a provider's pool item: its tasks held. Taking a token off (unhold) counts down after it, so a
# crash in between leaves it one too high (a needless pass), never too low; recounts correct it.
HELD = "held"
# What a task's end removes besides its status' own marks (gsi2 is removed by every end).
HELD_AND_SLOT_ATTRS = ("heldToken", "heldBeatAt", *_SLOT_ATTRS)


def pool_key(scope: str) -> dict[str, str]:
    return {"pk": f"POOL#{scope}", "sk": "POOL"}


def hold_partition(provider: str) -> str:
    return f"HOLD#{provider}"


def _held_sort_key(held: Held) -> str:
    # The user goes last: a user id may hold any character, the other parts never hold "|".
    return f"{iso(held.since)}|{held.priority:03d}|{held.job_id}|{held.index:06d}|{held.user_id}"


def _held_from(sort_key: str) -> Held:
    since, priority, job_id, index, user = sort_key.split("|", 4)
    return Held(job_id, int(index), user, int(priority), datetime.fromisoformat(since))


class SlotRepository(TableRepository):
    # ------------------------------------------------------------------ reads
    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self._table.query(**kwargs)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def held(self, provider: str, limit: int = 1000) -> list[Held]:
        """The tasks waiting in `provider`'s pool, longest waiting first."""
        found: list[Held] = []
        query = {
            "IndexName": "gsi2",
            "KeyConditionExpression": key_condition("gsi2pk").eq(hold_partition(provider)),
        }
        for item in self._query(**query):
            found.append(_held_from(item["gsi2sk"]))
            if len(found) >= limit:
                break
        return found

    def parked(self, job_id: str | None = None) -> list[tuple[str, int]]:
        """(job, index) of the tasks parked while their job is paused (one job's, or every job's)."""
        condition = key_condition("gsi2pk").eq(PARKED)
        if job_id is not None:
            condition &= key_condition("gsi2sk").begins_with(f"{job_id}|")
        return [
            (job, int(index))
            for item in self._query(IndexName="gsi2", KeyConditionExpression=condition)
            for job, index in [item["gsi2sk"].split("|", 1)]
        ]

    def pool(self, scope: str) -> PoolState:
        item = self._table.get_item(Key=pool_key(scope), ConsistentRead=True).get("Item")
        if not item:
            return PoolState()
        data = from_dynamo(item)
        blocked = data.get("blockedUntil")
        return PoolState(
            in_flight=data.get("inFlight", 0),
            held=data.get(HELD, 0),
            rate_window=data.get("rateWindow"),
            rate_count=data.get("rateCount", 0),
            blocked_until=datetime.fromisoformat(blocked) if blocked else None,
        )

    def slots_of(self, provider: str) -> list[tuple[TaskSlot, str]]:
        """The slots held now by tasks of `provider`, with their job's id (to recount the counters)."""
        query = {
            "IndexName": "gsi1",
            "KeyConditionExpression": key_condition("gsi1pk").eq(f"SLOT#{provider}"),
        }
        return [
            (TaskSlot.model_validate(from_dynamo(item["slot"])), item["pk"].removeprefix("JOB#"))
            for item in self._query(**query)
            if "slot" in item
        ]

    # ------------------------------------------------------------------ holding
    def hold(self, held: Held, provider: str, token: str) -> bool:
        """Parks the token of a PENDING task without a slot in its provider's pool, counted there."""
        params = self._park(held.job_id, held.index, token, hold_partition(provider), _held_sort_key(held))
        counted = update(pool_key(provider), add={HELD: 1})
        try:
            self._client.transact_write_items(TransactItems=[self.update_op(params), self.update_op(counted)])
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def park(self, job_id: str, index: int, token: str) -> bool:
        """Parks the token of a PENDING task of a paused job, under its job."""
        params = self._park(job_id, index, token, PARKED, f"{job_id}|{index:06d}")
        return conditionally(self._table.update_item, **params) is not None

    @staticmethod
    def _park(job_id: str, index: int, token: str, partition: str, sort_key: str) -> dict[str, Any]:
        return update(
            task_key(job_id, index),
            set={"heldToken": token, "gsi2pk": partition, "gsi2sk": sort_key},
            condition="#s = :pending AND attribute_not_exists(slot)",
            names={"#s": "status"},
            values={":pending": TaskStatus.PENDING.value},
        )

    def unhold(self, job_id: str, index: int) -> str | None:
        """Takes a parked token off its task (None: another pass took it first)."""
        params = update(
            task_key(job_id, index),
            remove=_HELD_ATTRS,
            condition="attribute_exists(heldToken)",
        )
        answer = conditionally(self._table.update_item, ReturnValues="ALL_OLD", **params)
        if answer is None:
            return None
        partition = str(answer["Attributes"].get("gsi2pk", ""))
        if partition.startswith(hold_partition("")):
            self._table.update_item(
                **update(pool_key(partition.removeprefix(hold_partition(""))), add={HELD: -1})
            )
        return str(answer["Attributes"]["heldToken"])

    def recount_held(self, provider: str) -> bool:
        """Sets the provider's count of held tasks to its listing's, unless a hold or an admission
        moved it meanwhile (the next pass looks again); True when it was set."""
        seen = self.pool(provider).held
        partition = key_condition("gsi2pk").eq(hold_partition(provider))
        counted = sum(1 for _ in self._query(IndexName="gsi2", KeyConditionExpression=partition))
        if counted == seen:
            return False
        condition = "#h = :seen" if seen else "attribute_not_exists(#h) OR #h = :seen"
        params = update(
            pool_key(provider),
            set={HELD: counted},
            condition=condition,
            names={"#h": HELD},
            values={":seen": seen},
        )
        return conditionally(self._table.update_item, **params) is not None

    def held_token(self, job_id: str, index: int) -> tuple[str, datetime | None] | None:
        """A parked token and when it was last kept alive."""
        item = self._table.get_item(Key=task_key(job_id, index), ConsistentRead=True).get("Item")
        if not item or "heldToken" not in item:
            return None
        beat = item.get("heldBeatAt")
        return str(item["heldToken"]), datetime.fromisoformat(beat) if beat else None

    def beat(self, job_id: str, index: int, at: datetime) -> None:
        conditionally(
            self._table.update_item,
            **update(
                task_key(job_id, index), set={"heldBeatAt": iso(at)}, condition="attribute_exists(heldToken)"
            ),
        )

    # ------------------------------------------------------------------ slots
    def admit(self, admission: Admission, pools: dict[str, PoolState]) -> TaskSlot:
        """Takes the task's slot in one transaction: its user's place under the plan limit and a
        place in each limited scope (as `pools` were read: the conditions hold the limits whatever
        happened since). Raises Refused, naming what was full, when any condition did not hold."""
        slot = TaskSlot(
            user=admission.user_id,
            scopes=[lim.scope for lim in admission.limits],
            at=admission.held.since if admission.held else admission.at,
            priority=admission.priority,
        )
        condition = "#s = :pending AND attribute_not_exists(slot)"
        values: dict[str, Any] = {":pending": TaskStatus.PENDING.value}
        if admission.held is not None:  # still held as the dispatcher saw it
            condition += " AND gsi2sk = :held"
            values[":held"] = _held_sort_key(admission.held)
        task = update(
            task_key(admission.job_id, admission.index),
            set={
                "slot": slot.model_dump(mode="json"),
                "gsi1pk": f"SLOT#{admission.provider}",
                "gsi1sk": f"{admission.job_id}|{admission.index:06d}",
            },
            remove=_HELD_ATTRS if admission.held is not None else (),
            condition=condition,
            names={"#s": "status"},
            values=values,
        )
        # A newcomer may count into a limit's reserved places only while it has nothing in flight.
        reserved = admission.takes_reserved(pools)
        in_flight = "inFlight = :none" if reserved else "inFlight < :max"
        account = update(
            account_key(admission.user_id),
            add={"inFlight": 1, REVISION: 1},
            condition=f"attribute_exists(pk) AND (attribute_not_exists(inFlight) OR {in_flight})",
            values={":none": 0} if reserved else {":max": admission.max_in_flight},
        )
        items = [self.update_op(task), self.update_op(account)]
        unheld = admission.provider if admission.held is not None else None  # one fewer waits there
        items += [
            self.update_op(
                self._take(lim, pools.get(lim.scope, PoolState()), admission, lim.scope == unheld, reserved)
            )
            for lim in admission.limits
        ]
        if unheld is not None and unheld not in slot.scopes:
            items.append(self.update_op(update(pool_key(unheld), add={HELD: -1})))
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            codes = cancellation_codes(error)
            failed = next((i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"), 0)
            raise Refused(["task", "user", *slot.scopes][failed]) from error
        return slot

    @staticmethod
    def _take(
        limit: Limit, state: PoolState, admission: Admission, unheld: bool, reserved: bool
    ) -> dict[str, Any]:
        conditions = ["(attribute_not_exists(blockedUntil) OR blockedUntil <= :now)"]
        values: dict[str, Any] = {":now": iso(admission.at)}
        add: dict[str, int] = {REVISION: 1, **({HELD: -1} if unheld else {})}
        sets: dict[str, Any] = {}
        places = limit.places_for(reserved)
        if places is not None:
            add["inFlight"] = 1
            conditions.append("(attribute_not_exists(inFlight) OR inFlight < :limit)")
            values[":limit"] = places
        if limit.rate_per_minute is not None:
            window = admission.window
            values[":window"] = window
            if state.rate_window == window:  # counted in this minute's window
                add["rateCount"] = 1
                conditions.append("rateWindow = :window AND rateCount < :rate")
                values[":rate"] = limit.rate_per_minute
            else:  # the first create of a new minute
                sets.update(rateWindow=window, rateCount=1)
                conditions.append("(attribute_not_exists(rateWindow) OR rateWindow <> :window)")
        return update(
            pool_key(limit.scope), set=sets, add=add, condition=" AND ".join(conditions), values=values
        )

    def release_ops(self, slot: TaskSlot) -> list[dict[str, Any]]:
        """A transaction's items giving back a slot's places in its pools (the user's place is given
        back on the account item, which the task's end already updates)."""
        return [
            self.update_op(update(pool_key(scope), add={"inFlight": -1, REVISION: 1}))
            for scope in slot.scopes
        ]

    def block(self, provider: str, until: datetime) -> None:
        """No task of `provider` is admitted before `until` (a later block wins over an earlier one)."""
        conditionally(
            self._table.update_item,
            **update(
                pool_key(provider),
                set={"blockedUntil": iso(until)},
                condition="attribute_not_exists(blockedUntil) OR blockedUntil < :until",
                values={":until": iso(until)},
            ),
        )

    def counter(self, scope_or_user: tuple[str, str]) -> tuple[int, int]:
        """A counter ("pool" or "user", its name): its places taken, and its revision (every admission
        and release adds one)."""
        item = self._table.get_item(Key=_counter_key(scope_or_user), ConsistentRead=True).get("Item") or {}
        return int(item.get("inFlight", 0)), int(item.get(REVISION, 0))

    def repair(self, scope_or_user: tuple[str, str], revision: int, counted: int) -> bool:
        """Sets a counter to what was counted, if no admission or release moved it since its
        `revision` was read before counting (else the next pass looks again)."""
        condition = "attribute_exists(pk) AND "
        condition += "#r = :rev" if revision else "(attribute_not_exists(#r) OR #r = :rev)"
        params = update(
            _counter_key(scope_or_user),
            set={"inFlight": counted},
            condition=condition,
            names={"#r": REVISION},
            values={":rev": revision},
        )
        return conditionally(self._table.update_item, **params) is not None


def _counter_key(scope_or_user: tuple[str, str]) -> dict[str, str]:
    kind, name = scope_or_user
    return pool_key(name) if kind == "pool" else account_key(name)
