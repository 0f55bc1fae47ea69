"""DynamoDB's item rules, applied to every item moto is about to store.

moto 5.2.5 is looser than DynamoDB on some rules and stricter on one: it stores items nested
deeper than 32 levels, numbers with 39 significant digits or beyond 9.99E+125, and empty map keys
(after which every read of the item fails inside moto), and it counts item size without
DynamoDB's per-element overheads against its own 405,000 bytes. Here each item that PutItem,
BatchWriteItem, UpdateItem (the item as the update leaves it) and TransactWriteItems would
store is checked as DynamoDB checks it, and refused with DynamoDB's ValidationException and
message (or, for a transaction's Update, its cancellation), with nothing written. Messages are
DynamoDB's, as DynamoDB Local and captures of the service word them.
"""

from __future__ import annotations

import base64
import binascii
import copy
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

# "Service, account, and table quotas in Amazon DynamoDB" and "DynamoDB item sizes and formats".
MAX_ITEM_BYTES = 400 * 1024
MAX_NESTING_LEVELS = 32
MAX_SIGNIFICANT_DIGITS = 38
MAX_EXPONENT = 125  # largest magnitude 9.9999999999999999999999999999999999999E+125
MIN_EXPONENT = -130  # smallest magnitude 1E-130
MAX_ATTRIBUTE_NAME_BYTES = 65535

ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"
ITEM_TO_UPDATE_TOO_LARGE = "Item size to update has exceeded the maximum allowed size"
NESTING_TOO_DEEP = "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
NUMBER_OVERFLOW = "Number overflow. Attempting to store a number with magnitude larger than supported range"
NUMBER_UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
NUMBER_TOO_PRECISE = "Attempting to store more than 38 significant digits in a Number"
NOT_A_NUMBER = "The parameter cannot be converted to a numeric value"
EMPTY_ATTRIBUTE_NAME = "Empty attribute name"
ATTRIBUTE_NAME_TOO_LARGE = "Attribute name is too large, must be less than 65536 bytes"
EMPTY_KEY_VALUE = (
    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
    "an empty string value. Key: {}"
)


class _TooLarge(MockValidationException):
    pass


class _TooDeep(MockValidationException):
    def __init__(self) -> None:
        super().__init__(NESTING_TOO_DEEP)


class ValidationError(Exception):
    """A transaction's cancellation reason (moto names it after the class): the item an Update
    would leave breaks a rule."""


_transaction = threading.local()


def _type_and_value(attribute: Any) -> tuple[str, Any]:
    """(type, value) of an AttributeValue, from the wire's {"S": ...} or moto's DynamoType."""
    if isinstance(attribute, DynamoType):
        return attribute.type, attribute.value
    return next(iter(attribute.items()))


def _number_size(text: Any) -> int:
    """Bytes DynamoDB counts for a number (1 per two significant digits, plus 1), after its range checks."""
    try:
        number = Decimal(str(text).strip())
    except InvalidOperation:
        raise MockValidationException(f"{NOT_A_NUMBER}: {text}") from None
    if not number.is_finite():
        raise MockValidationException(f"{NOT_A_NUMBER}: {text}")
    if number.is_zero():
        return 2
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(significant) > MAX_SIGNIFICANT_DIGITS:
        raise MockValidationException(NUMBER_TOO_PRECISE)
    if number.adjusted() > MAX_EXPONENT:
        raise MockValidationException(NUMBER_OVERFLOW)
    if number.adjusted() < MIN_EXPONENT:
        raise MockValidationException(NUMBER_UNDERFLOW)
    return (len(significant) + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    # moto keeps binaries as received: base64 text from the wire, bytes from the SDK's objects.
    if isinstance(value, bytes):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return len(str(value).encode())


def _name_size(name: str) -> int:
    size = len(name.encode())
    if size == 0:
        raise MockValidationException(EMPTY_ATTRIBUTE_NAME)
    if size > MAX_ATTRIBUTE_NAME_BYTES:
        raise MockValidationException(ATTRIBUTE_NAME_TOO_LARGE)
    return size


def item_size(attributes: dict[str, Any]) -> int:
    """The item's size as DynamoDB counts it, checking nesting, numbers and names on the way.

    A top-level attribute is level 1; each list or map adds a level to what it holds. Walked
    with an explicit stack, so no depth of input can exhaust Python's recursion.
    """
    total = 0
    pending: list[tuple[Any, int]] = []
    for name, attribute in attributes.items():
        total += _name_size(name)
        pending.append((attribute, 1))
    while pending:
        attribute, level = pending.pop()
        if level > MAX_NESTING_LEVELS:
            raise _TooDeep()
        kind, value = _type_and_value(attribute)
        if kind == "S":
            total += len(value.encode())
        elif kind == "N":
            total += _number_size(value)
        elif kind == "B":
            total += _binary_size(value)
        elif kind in ("BOOL", "NULL"):
            total += 1
        elif kind == "SS":
            total += sum(len(v.encode()) for v in value)
        elif kind == "NS":
            total += sum(_number_size(v) for v in value)
        elif kind == "BS":
            total += sum(_binary_size(v) for v in value)
        elif kind == "L":
            total += 3 + len(value)  # 3 bytes per list, 1 per element
            pending.extend((element, level + 1) for element in value)
        elif kind == "M":
            total += 3 + len(value)
            for key, element in value.items():
                total += _name_size(key)
                pending.append((element, level + 1))
    return total


def check_item(table: Table, attributes: dict[str, Any], too_large: str = ITEM_TOO_LARGE) -> None:
    """Refuse, as DynamoDB does, an item that `table` could not store."""
    for key in (table.hash_key_attr, table.range_key_attr):
        if key and key in attributes and _type_and_value(attributes[key])[1] in ("", b""):
            raise MockValidationException(EMPTY_KEY_VALUE.format(key))
    if item_size(attributes) > MAX_ITEM_BYTES:
        raise _TooLarge(too_large)


def install() -> None:
    puts_are_checked()
    updates_are_checked_as_they_would_leave_the_item()
    batch_writes_are_checked_before_any_write()
    single_item_writes_wrap_nesting_refusals()
    moto_size_count_is_replaced()


def puts_are_checked() -> None:
    # PutItem, each Put of TransactWriteItems and each PutRequest of BatchWriteItem reach Table.put_item.
    original = Table.put_item

    def put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
        check_item(self, item_attrs)
        return original(self, item_attrs, *args, **kwargs)

    Table.put_item = put_item  # type: ignore[method-assign]


def updates_are_checked_as_they_would_leave_the_item() -> None:
    # DynamoDB refuses an update whose result breaks a rule and leaves the item as it was; moto
    # applies the update in place, so the item is checked afterwards and restored when refused.
    # In TransactWriteItems an Update whose result is too large or too deep cancels the
    # transaction with a ValidationError reason (the other rules are checked on the request).
    original = DynamoDBBackend.update_item
    original_transaction = DynamoDBBackend.transact_write_items

    def update_item(
        self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Item:
        table = self.get_table(table_name)
        if any(name and name not in key for name in (table.hash_key_attr, table.range_key_attr)):
            return original(self, table_name, key, *args, **kwargs)  # moto refuses the key itself
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        before = copy.deepcopy(table.get_item(hash_value, range_value))
        shard = table.stream_shard
        streamed = len(shard.items) if shard is not None else 0
        item = original(self, table_name, key, *args, **kwargs)
        try:
            check_item(table, item.attrs, too_large=ITEM_TO_UPDATE_TOO_LARGE)
        except MockValidationException as refusal:
            if before is None:
                table.delete_item(hash_value, range_value)
            elif range_value is not None:
                table.items[hash_value][range_value] = before
            else:
                table.items[hash_value] = before  # type: ignore[assignment]
            if shard is not None:
                # A refused update never happened: the table's stream holds no record of it (moto
                # appended the change, and the restore above its own, before the check).
                del shard.items[streamed:]
            if getattr(_transaction, "on", False) and isinstance(refusal, _TooLarge | _TooDeep):
                reason = (
                    "Nesting Levels have exceeded supported limits"
                    if isinstance(refusal, _TooDeep)
                    else refusal.exception_msg
                )
                raise ValidationError(reason) from refusal
            raise
        return item

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        _transaction.on = True
        try:
            original_transaction(self, transact_items)
        finally:
            _transaction.on = False

    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def batch_writes_are_checked_before_any_write() -> None:
    # DynamoDB validates a whole BatchWriteItem before writing; moto writes its puts one by one,
    # so a bad item late in the batch would leave the earlier ones written.
    original = DynamoHandler.batch_write_item

    def batch_write_item(self: DynamoHandler) -> Any:
        for table_name, requests in self.body.get("RequestItems", {}).items():
            table = self.dynamodb_backend.tables.get(table_name)
            if table is None:
                continue  # moto answers ResourceNotFoundException
            for request in requests:
                if "PutRequest" in request:
                    check_item(table, request["PutRequest"]["Item"])
        return original(self)

    DynamoHandler.batch_write_item = batch_write_item  # type: ignore[method-assign]


def single_item_writes_wrap_nesting_refusals() -> None:
    # PutItem and UpdateItem word a nesting refusal inside DynamoDB's validation envelope;
    # BatchWriteItem and TransactWriteItems give it bare.
    def wrapped(action: Any) -> Any:
        def call(self: DynamoHandler) -> Any:
            try:
                return action(self)
            except _TooDeep:
                raise MockValidationException(f"1 validation error detected: {NESTING_TOO_DEEP}") from None

        return call

    DynamoHandler.put_item = wrapped(DynamoHandler.put_item)  # type: ignore[method-assign]
    DynamoHandler.update_item = wrapped(DynamoHandler.update_item)  # type: ignore[method-assign]


def moto_size_count_is_replaced() -> None:
    # moto refuses attributes past its own count (405,000 bytes, no overheads) as they are set,
    # which refuses items DynamoDB stores; every stored item is counted as DynamoDB counts above.
    LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]
