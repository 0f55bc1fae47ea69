"""DynamoDB glue shared by the repositories: the table handle, conditional writes, one builder of
update expressions, and the results every repository speaks in (pages, refused reservations).

Key shapes and index names live in dal.items and the repositories; nothing outside dal/ sees them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from genjobs.dal import aws
from genjobs.dal.items import to_dynamo
from genjobs.models.domain import utcnow

T = TypeVar("T")


def key(name: str) -> Any:
    """boto3's key condition on `name`; boto3 is imported on first use (see dal.aws)."""
    from boto3.dynamodb.conditions import Key

    return Key(name)


def attr(name: str) -> Any:
    """boto3's attribute condition on `name`."""
    from boto3.dynamodb.conditions import Attr

    return Attr(name)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def is_conditional_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    return code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def cancellation_codes(error: ClientError) -> list[str]:
    """Why each item of a cancelled transaction failed, in the transaction's order."""
    return [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]


def conditionally(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Runs a conditional write: its response, or None (nothing written) when its condition did
    not hold."""
    try:
        return call(**kwargs)
    except ClientError as error:
        if is_conditional_failure(error):
            return None
        raise


def update(
    key: Mapping[str, Any],
    *,
    set: Mapping[str, Any] | None = None,
    set_if_absent: Mapping[str, Any] | None = None,
    add: Mapping[str, int] | None = None,
    remove: Iterable[str] = (),
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameters of one UpdateItem, or of a transaction's Update, from plain dicts.

    Attribute names and values become placeholders (#u0, :u0...), so any name may be used. `add`
    is DynamoDB's ADD (a missing number counts as 0; a negative amount subtracts). `condition`
    brings its own `names` and `values` (any placeholders but #u*/:u*).
    """
    expr_names: dict[str, str] = dict(names or {})
    expr_values: dict[str, Any] = dict(values or {})
    counter = itertools.count()

    def placeholder(name: str, value: Any = None, *, has_value: bool = True) -> tuple[str, str]:
        i = next(counter)
        expr_names[f"#u{i}"] = name
        if has_value:
            expr_values[f":u{i}"] = value
        return f"#u{i}", f":u{i}"

    sets = []
    for name, value in (set or {}).items():
        n, v = placeholder(name, to_dynamo(value))
        sets.append(f"{n} = {v}")
    for name, value in (set_if_absent or {}).items():
        n, v = placeholder(name, to_dynamo(value))
        sets.append(f"{n} = if_not_exists({n}, {v})")
    adds = []
    for name, amount in (add or {}).items():
        n, v = placeholder(name, amount)
        adds.append(f"{n} {v}")
    removals = [placeholder(name, has_value=False)[0] for name in remove]
    clauses = [
        f"{word} {', '.join(parts)}"
        for word, parts in (("SET", sets), ("ADD", adds), ("REMOVE", removals))
        if parts
    ]
    params: dict[str, Any] = {"Key": dict(key), "UpdateExpression": " ".join(clauses)}
    if condition:
        params["ConditionExpression"] = condition
    if expr_names:
        params["ExpressionAttributeNames"] = expr_names
    if expr_values:
        params["ExpressionAttributeValues"] = expr_values
    return params


class TableRepository:
    """A repository over the jobs table (one table holds every aggregate, see dal.items)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _table(self) -> Any:
        return aws.table(self.table_name)

    @property
    def _client(self) -> Any:
        # The resource's client takes and returns plain Python values, transactions included.
        return aws.dynamodb_resource().meta.client

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """A conditional transaction: False, with nothing written, when a condition did not hold."""
        return conditionally(self._client.transact_write_items, TransactItems=items) is not None

    def _put_once(self, item_key: dict[str, Any]) -> bool:
        """Writes the record at `item_key`, stamped with the time: True the first time only."""
        written = conditionally(
            self._table.put_item,
            Item={**item_key, "at": iso(utcnow())},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return written is not None

    def _job_ids_marked(self, mark: str, before: datetime, limit: int) -> list[str]:
        """The jobs the sweep index lists under `mark` since before `before` (it holds keys only)."""
        response = self._table.query(
            IndexName="gsi2",
            KeyConditionExpression=key("gsi2pk").eq(mark) & key("gsi2sk").lte(iso(before)),
            Limit=limit,
        )
        return [item["pk"].removeprefix("JOB#") for item in response["Items"]]

    def put(self, item: dict[str, Any], condition: str | None = None, **extra: Any) -> dict[str, Any]:
        """A transaction's Put of `item` in this table."""
        put: dict[str, Any] = {"TableName": self.table_name, "Item": item, **extra}
        if condition:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def update_op(self, params: dict[str, Any]) -> dict[str, Any]:
        """A transaction's Update in this table, from `update(...)`'s parameters."""
        return {"Update": {"TableName": self.table_name, **params}}
