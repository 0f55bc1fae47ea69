"""Adversarial input at the door, over HTTP against the embedded stack: values DynamoDB cannot store,
JSON the parser cannot take, and crafted page cursors. Every refusal is a 4xx problem that names
the field and changes nothing; what is accepted runs to its end, stored exactly as sent."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e


def state(app: Client) -> tuple[dict[str, Any], list[str]]:
    listing = app.get("/jobs?limit=100")
    assert listing.status_code == 200, listing.text
    return app.credits(), [j["jobId"] for j in listing.json()["items"]]


def nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def body_with(**raw: str) -> str:
    """A create body, as text, whose fields `raw` are given as JSON text (so they can hold what
    Python's json would not write: NaN, lone surrogates, 40-digit numbers)."""
    fields = {"provider": '"simulator"', "model": '"sim-image"', "tasks": '[{"seed": 0}]'} | raw
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


BIG = "x" * 450_000
REFUSED: list[tuple[str, str, int, str]] = [
    # defect: 500 (decimal.Inexact, Underflow, surrogates, RecursionError)
    (
        "39 significant digits",
        body_with(input='{"n": 123456789012345678901234567890123456789}'),
        422,
        "input.n",
    ),
    ("underflow 1e-200", body_with(input='{"n": 1e-200}'), 422, "input.n"),
    ("lone surrogate in a string", body_with(input='{"s": "\\ud800"}'), 422, "input.s"),
    ("lone surrogate in a key", body_with(input='{"\\ud800": 1}'), 422, "input.\\ud800"),
    ("lone surrogate in a collection", body_with(collectionId='"\\udc00"'), 422, "collectionId"),
    ("nested 5,000 deep", body_with(input=nested(5000)), 400, "body"),
    ("an integer of 5,000 digits", body_with(input='{"n": ' + "9" * 5000 + "}"), 400, "body"),
    # defect: silently changed, then run and charged
    ("NaN", body_with(input='{"n": NaN}'), 422, "input.n"),
    ("Infinity", body_with(tasks='[{"n": Infinity}]'), 422, "tasks.0.n"),
    ("1e400", body_with(input='{"n": 1e400}'), 422, "input.n"),
    (
        "a fraction with 40 digits",
        body_with(input='{"n": 0.1234567890123456789012345678901234567891}'),
        422,
        "input.n",
    ),
    # defect: accepted with 202, then can never run
    ("nested 200 deep", body_with(input=nested(200)), 422, "input"),
    ("nested 33 deep", body_with(input=nested(33)), 422, "input"),
    ("a task nested 31 deep", body_with(tasks="[" + nested(31) + "]"), 422, "tasks.0"),
    ("a 450 KB common input", body_with(input=json.dumps({"p": BIG})), 422, "input"),
    ("a 450 KB task input", body_with(tasks=json.dumps([{"p": "x"}, {"p": BIG}])), 422, "tasks.1"),
    ("an empty key", body_with(input='{"": 1}'), 422, "input"),
    (
        "an empty key in a matrix value",
        body_with(tasks="null", matrix='{"role": [{"": 1}]}'),
        422,
        "matrix.role.0",
    ),
    ("an empty metadata key", body_with(metadata='{"": "x"}'), 422, "metadata"),
]


@pytest.mark.parametrize(("case", "body", "status", "field"), REFUSED, ids=[c[0] for c in REFUSED])
def test_what_dynamodb_cannot_store_is_refused_at_the_door_and_changes_nothing(
    app: Client, case: str, body: str, status: int, field: str
) -> None:
    # GIVEN a user with credits and a job list
    before = state(app)
    # WHEN it posts a body holding what DynamoDB could not store as sent
    response = app.post("/jobs", data=body.encode(), headers={"Content-Type": "application/json"})
    # THEN it is a problem naming the field, nothing is created or reserved
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), (field, fields)
    assert state(app) == before


def test_values_at_the_limits_are_stored_exactly_and_run(app: Client) -> None:
    # GIVEN numbers, keys and nesting right at DynamoDB's limits
    edges = (
        '{"digits38": 12345678901234567890123456789012345678, "negative38": -99999999999999999999999999999999999999,'
        ' "smallest": 1e-130, "largest": 9.99999999999999e125, "trailing_zeros": 100000000000000000000000000000000000000000000000000,'
        ' "zero": -0.0, "empty": "", "unicode": "\\ud83d\\ude00 caf\\u00e9", "deep": ' + nested(31) + "}"
    )
    before = app.credits()
    response = app.post(
        "/jobs",
        data=body_with(input=edges).replace(
            '"tasks": [{"seed": 0}]', '"tasks": [{"seed": 0, "sim": {"latency": 1}}]'
        ),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    # WHEN the job runs
    job = app.wait(response.json()["jobId"], timeout=60)
    # THEN it completed, with its input stored and given back exactly as sent
    assert job["status"] == "COMPLETED", job
    sent = json.loads(edges)
    given_back = job["tasks"][0]["input"]
    for name, value in sent.items():
        if isinstance(value, int | float):  # the same decimal number (an integral one may lose its ".0")
            assert Decimal(repr(given_back[name])) == Decimal(repr(value)), name
        else:
            assert given_back[name] == value, name
    credits = app.credits()
    assert credits["charged"] == before["charged"] + 1
    assert credits["reserved"] == 0
    assert credits["granted"] == credits["available"] + credits["reserved"] + credits["charged"]
