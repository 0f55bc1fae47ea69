"""The input rule at the door: every value a job stores passes DynamoDB's limits when the job is
created, or is refused naming where it breaks which limit; nothing is changed on the way in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from pydantic import ValidationError

from genjobs.dal.items import from_dynamo, job_to_item, task_to_item, to_dynamo
from genjobs.handlers.api import parse_json_body
from genjobs.logic.jobs import INLINE_SPEC_BYTES
from genjobs.models import stored
from genjobs.models.api import CreateJobRequest, largest_task_input
from genjobs.models.domain import Job, JobCredits, JobStatus, Output, Plan, Task, TaskCounts, TaskStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MAX_NUMBER = "9.9999999999999999999999999999999999999E+125"


def nested(levels: int, leaf: Any = 1) -> Any:
    """`levels` maps one inside the other around `leaf`."""
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def refusal(body: dict[str, Any]) -> tuple[str, str]:
    """(field path, reason) of the first stored-value refusal of a create request."""
    with pytest.raises(ValidationError) as caught:
        CreateJobRequest.model_validate({"provider": "simulator", "model": "sim-image", **body})
    for error in caught.value.errors():
        if error["type"] == "dynamodb_limit":
            below = (error.get("ctx") or {}).get("path", "")
            location = [str(p) for p in error["loc"]]
            return ".".join([*location, below] if below else location), error["msg"]
    raise AssertionError(caught.value.errors())


def accepted(body: dict[str, Any]) -> CreateJobRequest:
    return CreateJobRequest.model_validate({"provider": "simulator", "model": "sim-image", **body})


# ---------------------------------------------------------------------------------------- refused
REFUSED = [
    (
        "39 significant digits",
        '{"input": {"n": 123456789012345678901234567890123456789}}',
        "input.n",
        "39 significant digits",
    ),
    (
        "39 digits in a fraction",
        '{"input": {"n": [0.1, -1234567890123456789012345678901234567.89]}}',
        "input.n.1",
        "significant digits",
    ),
    ("a fraction no float holds", '{"input": {"n": 0.10000000000000000000001}}', "input.n", "more precision"),
    ("underflow", '{"input": {"n": 1e-200}}', "input.n", "out of the stored range"),
    ("underflow to zero", '{"input": {"n": -1e-400}}', "input.n", "out of the stored range"),
    ("just under the smallest", '{"input": {"n": 9e-131}}', "input.n", "out of the stored range"),
    ("overflow", '{"input": {"n": 1e126}}', "input.n", "out of the stored range"),
    ("1e400", '{"input": {"n": 1e400}}', "input.n", "out of the stored range"),
    ("NaN", '{"input": {"n": NaN}}', "input.n", "finite"),
    ("-Infinity", '{"tasks": [{"n": -Infinity}]}', "tasks.0.n", "finite"),
    ("lone surrogate in a string", '{"input": {"s": "\\ud800"}}', "input.s", "lone surrogate"),
    ("lone surrogate in a key", '{"input": {"k": {"\\udfff": 1}}}', "input.k.\\udfff", "lone surrogate"),
    ("empty key", '{"input": {"": 1}}', "input", "empty key"),
    ("empty key in a task", '{"tasks": [{"x": [{"": 1}]}]}', "tasks.0.x.0", "empty key"),
    ("empty key in a matrix value", '{"matrix": {"role": [{"": "x"}]}}', "matrix.role.0", "empty key"),
    ("surrogate in a matrix value", '{"matrix": {"role": ["\\ud800"]}}', "matrix.role.0", "lone surrogate"),
]


@pytest.mark.parametrize(("case", "text", "field", "reason"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_value_dynamodb_cannot_store_is_refused_naming_where_and_why(
    case: str, text: str, field: str, reason: str
) -> None:
    # (parsed as the API parses bodies)
    got_field, got_reason = refusal(parse_json_body(text))
    assert got_field == field
    assert reason in got_reason


def test_metadata_and_names_are_held_to_the_same_rule() -> None:
    for body in (
        {"metadata": {"": "x"}},
        {"metadata": {"k": "\ud800"}},
        {"metadata": {"\ud800": "v"}},
        {"collectionId": "\ud800"},
        {"model": "sim-\ud800"},
    ):
        with pytest.raises(ValidationError):
            accepted(body)


# ------------------------------------------------------------------------------- nesting in the item
def test_nesting_is_counted_where_each_value_sits_in_its_item() -> None:
    # `input` is an attribute of its item (level 1): 31 maps, whose deepest value is at level 32
    accepted({"input": nested(31)})
    assert "33 levels" in refusal({"input": nested(32)})[1]
    # a task's input sits in the job item's plan.tasks list: 2 levels already
    accepted({"tasks": [nested(29)]})
    assert refusal({"tasks": [nested(30)]})[0].startswith("tasks.0.a")
    # a matrix value sits in plan.matrix[name]: 3 levels already
    accepted({"matrix": {"x": [nested(28)]}})
    assert refusal({"matrix": {"x": [nested(29)]}})[0].startswith("matrix.x.0.a")


def test_nesting_thousands_deep_is_refused_without_recursion() -> None:
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    assert "levels deep" in refusal({"input": {"d": deep}})[1]


def test_json_the_parser_cannot_take_is_a_decode_error_not_a_crash() -> None:
    # GIVEN bodies that blow Python's parser: 5,000 levels, and an integer of 5,000 digits
    for text in ("[" * 5000 + "]" * 5000, '{"n": ' + "9" * 5000 + "}"):
        # THEN each is a JSON decode error, which the API answers with a 400 problem
        with pytest.raises(json.JSONDecodeError):
            parse_json_body(text)


# --------------------------------------------------------------------------------- stored as given
ACCEPTED_NUMBERS = [
    12345678901234567890123456789012345678,  # 38 digits
    -12345678901234567890123456789012345678,
    10**50,  # one significant digit
    1e-130,
    -1e-130,
    9.99999999999999e125,  # near DynamoDB's largest number (9.999999999999999e125 is 1e126 as a float)
    0,
    0.0,
    -0.0,
    0.1,
    True,
]


@pytest.mark.parametrize("number", ACCEPTED_NUMBERS, ids=[repr(n) for n in ACCEPTED_NUMBERS])
def test_a_number_within_the_limits_is_stored_and_read_back_unchanged(number: int | float) -> None:
    # GIVEN a number the rule accepts
    accepted({"input": {"n": number}})
    # WHEN it goes through boto3's serializer (which refuses to round) and back
    wire = TypeSerializer().serialize(to_dynamo({"n": number}))
    back = from_dynamo(TypeDeserializer().deserialize(wire))["n"]
    # THEN it is the same number (as JSON writes it: an integral float may come back as an int)
    if isinstance(number, bool):
        assert back is number
    else:
        assert Decimal(repr(back)) == Decimal(repr(number))


def test_the_largest_number_dynamodb_holds_is_accepted() -> None:
    assert stored.check_number(Decimal(MAX_NUMBER)) is None
    assert stored.check_number(Decimal("1E+126")) is not None
    assert stored.check_number(1e126) is not None


# ------------------------------------------------------------------------------------------ sizes
def test_sizes_are_counted_as_dynamodb_counts_them() -> None:
    assert stored.size("héllo") == 6  # UTF-8 bytes
    assert stored.size({"ab": "c"}) == 3 + 1 + 2 + 1  # map overhead, entry, name, value
    assert stored.size([1, True, None]) == 3 + 3 + 2 + 1 + 1
    assert stored.size(12345678901234567890123456789012345678) == 20


def test_a_task_input_over_the_item_limit_is_refused_naming_what_makes_it() -> None:
    big = "x" * (stored.MAX_TASK_INPUT_BYTES // 2)
    assert refusal({"input": {"p": big + big}})[0] == "input"
    assert refusal({"input": {"p": big}, "tasks": [{"q": "y"}, {"q": big}]})[0] == "tasks.1"
    assert refusal({"input": {"p": big}, "matrix": {"q": ["y", big]}})[0] == "matrix"
    # a task's value that replaces a common one does not count twice
    accepted({"input": {"p": big}, "tasks": [{"p": big}]})


def test_the_largest_task_item_a_job_can_write_fits_in_dynamodb() -> None:
    # GIVEN a job whose merged task input is as large as the rule lets it be
    budget = stored.MAX_TASK_INPUT_BYTES
    request = accepted({"input": {"p": "x" * (budget - 5)}})  # map, entry, name: 5 bytes
    assert largest_task_input(request) == ("input", budget)
    # WHEN its task ends with everything a task item holds besides its input
    task = Task(
        jobId="0" * 36,
        index=9_999,
        status=TaskStatus.COMPLETED,
        input=request.input,
        providerId="p" * 200,
        progress=100.0,
        outputs=[
            Output(
                key=f"outputs/{'0' * 36}/{i:06d}.png",
                contentType="image/png",
                size=10**9,
                sourceUrl="u" * 2048,
            )
            for i in range(8)
        ],
        error="e" * 1024,
        submitAttempts=50,
        pollCount=10_000,
        pollErrors=10,
        providerCancelledAt=NOW,
        taskToken="t" * 4096,
        createdAt=NOW,
        submittedAt=NOW,
        finishedAt=NOW,
        updatedAt=NOW,
    )
    item = task_to_item(task) | {"gsi2pk": "SWEEP#TASK", "gsi2sk": NOW.isoformat()}
    # THEN the item is under DynamoDB's 400 KB
    assert sum(stored.entry_size(name, value) for name, value in item.items()) < stored.MAX_ITEM_BYTES


def test_the_largest_job_item_fits_in_dynamodb() -> None:
    # GIVEN a job with every stored field as large as the API lets it be (4-byte characters)
    wide = "\U0001f600"
    request = accepted(
        {
            "provider": "p" * 200,
            "model": "m" * 200,
            "collectionId": wide * 128,
            "metadata": {f"{i:02d}" + wide * 62: wide * 512 for i in range(32)},
            "input": {"p": "x" * (INLINE_SPEC_BYTES - 60)},  # the largest spec kept in the item
            "tasks": [{}],
        }
    )
    job = Job(
        jobId="0" * 36,
        userId="u" * 128,
        status=JobStatus.CANCELLING,
        provider=request.provider,
        model=request.model,
        input=request.input,
        plan=Plan(tasks=request.tasks),
        taskCount=10_000,
        concurrency=100,
        collectionId=request.collection_id,
        metadata=request.metadata,
        counts=TaskCounts(pending=10_000),
        credits=JobCredits(unitPrice=10**6, reserved=10**10),
        idempotencyKey="k" * 255,
        createdAt=NOW,
        updatedAt=NOW,
        startedAt=NOW,
        cancelRequestedAt=NOW,
        finishedAt=NOW,
        eventPublishedAt=NOW,
    )
    item = job_to_item(job) | {"gsi2pk": "SWEEP#CANCEL", "gsi2sk": NOW.isoformat()}
    # THEN its item is far under DynamoDB's 400 KB
    assert sum(stored.entry_size(name, value) for name, value in item.items()) < stored.MAX_ITEM_BYTES // 4
