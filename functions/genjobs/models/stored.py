"""DynamoDB's limits on the values a request stores, checked at the door.

Whatever a job stores (its input, per-task inputs, matrix values, metadata, names) ends up in a
DynamoDB item. DynamoDB refuses what it cannot hold, and boto3 refuses numbers it would have to
round, but only when the workflow writes the item: after the API answered 202 and reserved credits.
moto, under the local stack, is looser still (no nesting limit, no number range on the way in, empty
map keys, items up to 405,000 bytes counted without overheads). So every such value passes the
service's rules here, with the field's JSON path and the limit in the refusal, and is never changed.

Limits, from DynamoDB's documentation (service quotas and data types):
- numbers: at most 38 significant digits; magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125,
  or zero; no NaN or Infinity (JSON has neither; Python's parser accepts them);
- strings and map keys: Unicode that UTF-8 can encode (no lone surrogates); no empty map keys;
- nesting: no value deeper than 32 levels within its item (an attribute is level 1);
- item size: 400 KB, names included (the size of a value is computed as DynamoDB does: see `size`).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

MAX_DEPTH = 32
MAX_DIGITS = 38
MIN_MAGNITUDE = Decimal("1E-130")
MAX_MAGNITUDE = Decimal("9.9999999999999999999999999999999999999E+125")
MAX_ITEM_BYTES = 400 * 1024
# What a task item holds besides its input: keys, status, times, provider id, outputs, error, the
# workflow's callback token (up to a few KB between them). The input gets the rest.
TASK_ITEM_RESERVE_BYTES = 40 * 1024
MAX_TASK_INPUT_BYTES = MAX_ITEM_BYTES - TASK_ITEM_RESERVE_BYTES

LIMITS = (
    "Stored as given in DynamoDB, so held to its limits: numbers of at most 38 significant digits with "
    "a magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125 (or zero), no NaN or "
    "Infinity; strings and keys valid Unicode (no lone surrogates); no empty keys; no value deeper "
    "than 32 levels in the stored item (its attribute is level 1, each object or array adds one); "
    "a task's input (the common input with the task's own values) at most "
    f"{MAX_TASK_INPUT_BYTES:,} bytes as DynamoDB counts item sizes"
)

Path = tuple[str | int, ...]


class StoredValueError(ValueError):
    """A value DynamoDB cannot store; `path` is where, below the field being validated."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class InexactNumber(float):
    """A JSON number that a float does not hold exactly (e.g. 40 digits, 1e400, 1e-400), as the
    API's parser reads it: the nearest float, with the literal kept so the rule can refuse it
    instead of storing something else."""

    literal: str

    def __new__(cls, literal: str) -> InexactNumber:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number


def parse_float(literal: str) -> float:
    """json.loads' parse_float: the float of a literal, marked when it is not the literal's value."""
    value = float(literal)
    if math.isfinite(value) and Decimal(literal) == Decimal(repr(value)):
        return value
    return InexactNumber(literal)


def check_number(value: int | float | Decimal) -> str | None:
    """Why DynamoDB cannot store this number, or None."""
    if isinstance(value, InexactNumber):
        return check_number(Decimal(value.literal)) or (
            f"{value.literal} has more precision than is kept: a fractional number is kept as a 64-bit "
            "float (up to 17 significant digits)"
        )
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (no NaN or Infinity)"
    # A float's shortest repr is what boto3 and DynamoDB see (to_dynamo converts through str).
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if number.is_zero():
        return None
    digits = significant_digits(number)
    if digits > MAX_DIGITS:
        return f"has {digits} significant digits; at most {MAX_DIGITS} are stored"
    magnitude = number.copy_abs()  # abs() would round to the context's 28 digits
    if magnitude < MIN_MAGNITUDE or magnitude > MAX_MAGNITUDE:
        return f"is out of the stored range: magnitude from {MIN_MAGNITUDE} to {MAX_MAGNITUDE}, or zero"
    return None


def significant_digits(number: Decimal) -> int:
    # Counted on the digits themselves: Decimal.normalize() would round to the context's precision.
    return len("".join(map(str, number.as_tuple().digits)).strip("0"))


def check_string(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (lone surrogate)"
    return None


def check(value: Any, depth: int = 0) -> None:
    """Raises StoredValueError for the first part of `value` DynamoDB would refuse.

    `depth` is how many maps or lists already enclose `value` in its item. DynamoDB counts an
    item's attribute as level 1 and each map or list adds one for what it holds: no value, scalar or
    not, may sit deeper than MAX_DEPTH. Iterative, so a value nested thousands deep costs no stack.
    """
    stack: list[tuple[Path, Any, int]] = [((), value, depth)]
    while stack:
        path, current, level = stack.pop()  # level: the maps and lists enclosing `current`
        if level + 1 > MAX_DEPTH:
            raise StoredValueError(
                path, f"sits {level + 1} levels deep in its item (objects and arrays); at most {MAX_DEPTH}"
            )
        if isinstance(current, dict | list):
            level += 1
            if isinstance(current, dict):
                for key, item in current.items():
                    if not isinstance(key, str) or key == "":
                        raise StoredValueError(path, "has an empty key; DynamoDB stores none")
                    reason = check_string(key)
                    if reason:
                        # Named by its JSON escape: the key itself cannot be written out.
                        raise StoredValueError((*path, json.dumps(key)[1:-1]), f"key {reason}")
                    stack.append(((*path, key), item, level))
            else:
                stack.extend(((*path, i), item, level) for i, item in enumerate(current))
        elif isinstance(current, str):
            reason = check_string(current)
            if reason:
                raise StoredValueError(path, reason)
        elif isinstance(current, bool) or current is None:
            continue
        elif isinstance(current, int | float | Decimal):
            reason = check_number(current)
            if reason:
                raise StoredValueError(path, reason)


def size(value: Any) -> int:
    """Bytes a value takes in a DynamoDB item, as DynamoDB counts them: a string its UTF-8 length,
    a number about one byte per two significant digits plus one, a map or list 3 bytes plus, per
    element, 1 byte, its value and (maps) its name. Iterative like `check`."""
    total = 0
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            total += 3 + sum(1 + len(k.encode("utf-8", "replace")) for k in current)
            stack.extend(current.values())
        elif isinstance(current, list):
            total += 3 + len(current)
            stack.extend(current)
        elif isinstance(current, str):
            total += len(current.encode("utf-8", "replace"))
        elif isinstance(current, bool) or current is None:
            total += 1
        elif isinstance(current, int | float | Decimal):
            total += number_size(current)
    return total


def number_size(value: int | float | Decimal) -> int:
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return min(21, (significant_digits(number) + 1) // 2 + 1)


def entry_size(name: str, value: Any) -> int:
    """Bytes of one map entry or top-level attribute: its name and its value."""
    return len(name.encode("utf-8", "replace")) + size(value)


def within(depth: int) -> AfterValidator:
    """Validates a JSON value stored in an item inside `depth` enclosing maps or lists:
    `Annotated[dict[str, Any], within(0)]`. A refusal names the path below the field (ctx `path`)."""

    def validate(value: Any) -> Any:
        try:
            check(value, depth)
        except StoredValueError as error:
            raise PydanticCustomError(
                "dynamodb_limit",
                "{reason}",
                {"reason": error.reason, "path": ".".join(str(p) for p in error.path)},
            ) from error
        return value

    return AfterValidator(validate)


def _text(value: str) -> str:
    reason = check_string(value)
    if reason:
        raise PydanticCustomError("dynamodb_limit", "{reason}", {"reason": reason, "path": ""})
    return value


# A string the API stores must be valid Unicode (boto3 cannot send a lone surrogate):
# Annotated[str, StringConstraints(...), VALID_TEXT].
VALID_TEXT = AfterValidator(_text)
