"""Adversarial input at the door, over HTTP against the embedded stack: values DynamoDB cannot store,
JSON the parser cannot take, and crafted page cursors. Every refusal is a 4xx problem that names
the field and changes nothing; what is accepted runs to its end, stored exactly as sent."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import Client, sim_job

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
    # an attribute is level 1: 32 maps put their innermost value at level 33
    ("input 32 maps deep", body_with(input=nested(32)), 422, "input"),
    ("a task 30 maps deep (inside plan.tasks)", body_with(tasks="[" + nested(30) + "]"), 422, "tasks.0"),
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
    # counts are JSON integers: never rounded or read from text
    (
        "a count just over an integer",
        body_with(tasks="null", matrix='{"s": [1, 2]}', count="1.00000000000000000001"),
        422,
        "count",
    ),
    ("a count as a float", body_with(tasks="null", matrix='{"s": [1, 2]}', count="2.0"), 422, "count"),
    ("a count as text", body_with(tasks="null", matrix='{"s": [1, 2]}', count='"2"'), 422, "count"),
    ("a concurrency as a float", body_with(concurrency="1.5"), 422, "concurrency"),
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
    # GIVEN numbers, keys and nesting right at DynamoDB's limits (DynamoDB counts the stored
    # attribute, input, as level 1 and its deepest value at most level 32: 30 maps inside input)
    edges = (
        '{"digits38": 12345678901234567890123456789012345678, "negative38": -99999999999999999999999999999999999999,'
        ' "smallest": 1e-130, "largest": 9.99999999999999e125, "trailing_zeros": 100000000000000000000000000000000000000000000000000,'
        ' "zero": -0.0, "empty": "", "unicode": "\\ud83d\\ude00 caf\\u00e9", "deep": ' + nested(30) + "}"
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


# ------------------------------------------------------------------------------------------ cursors
def forged(key: dict[str, Any]) -> str:
    """A cursor as the API once wrote them: base64 of the start key's JSON."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def test_crafted_and_foreign_cursors_are_refused_with_400(
    app: Client, make_user: Callable[..., Client]
) -> None:
    # GIVEN two users, each with jobs enough for a second page of jobs, of tasks and of events
    other = make_user()
    ids = [app.create(sim_job(1, latency=0))["jobId"] for _ in range(3)]
    other_id = other.create(sim_job(1, latency=0))["jobId"]
    other.create(sim_job(1, latency=0))
    for job_id in ids:
        app.wait(job_id)
    other.wait(other_id)
    jobs_cursor = app.get("/jobs?limit=1").json()["cursor"]
    tasks_cursor_of = {}
    events_cursor = app.get(f"/jobs/{ids[0]}/events?limit=1").json()["cursor"]
    big = app.create(sim_job(3, latency=0))["jobId"]
    app.wait(big)
    tasks_cursor_of[big] = app.get(f"/jobs/{big}/tasks?limit=1").json()["cursor"]
    other_cursor = other.get("/jobs?limit=1").json()["cursor"]
    for cursor in (jobs_cursor, events_cursor, tasks_cursor_of[big], other_cursor):
        assert cursor
    before, other_before = state(app), state(other)

    flipped = jobs_cursor[:10] + ("A" if jobs_cursor[10] != "A" else "B") + jobs_cursor[11:]
    attempts = [
        # tampered or made up
        ("/jobs", flipped),
        ("/jobs", jobs_cursor[:-4]),
        ("/jobs", "garbage"),
        ("/jobs", forged({"pk": "USER#x", "other": "keys"})),
        ("/jobs", forged({"pk": f"JOB#{ids[0]}", "sk": "TASK#000000"})),
        ("/jobs", forged({"gsi1pk": f"USER#{other.user}", "gsi1sk": "9", "pk": "JOB#x", "sk": "JOB"})),
        (f"/jobs/{big}/tasks", forged({"pk": f"JOB#{ids[0]}", "sk": "TASK#000000"})),
        # another user's cursor
        ("/jobs", other_cursor),
        # another route's or another job's cursor
        (f"/jobs/{big}/tasks", jobs_cursor),
        (f"/jobs/{big}/events", tasks_cursor_of[big]),
        (f"/jobs/{ids[1]}/tasks", tasks_cursor_of[big]),
        (f"/jobs/{ids[1]}/events", events_cursor),
        ("/jobs", events_cursor),
    ]
    for path, cursor in attempts:
        # WHEN the cursor is used
        response = app.get(path, params={"cursor": cursor})
        # THEN it is refused with a 400 naming the cursor
        assert response.status_code == 400, (path, cursor, response.text)
        assert response.json()["errors"] == [
            {"field": "cursor", "reason": "not a cursor this API returned to this caller for this listing"}
        ]
    # AND the other user cannot use the first one's cursor either
    assert other.get("/jobs", params={"cursor": jobs_cursor}).status_code == 400
    # AND genuine cursors still page on, and nothing changed
    assert app.get("/jobs", params={"limit": 1, "cursor": jobs_cursor}).status_code == 200
    assert (
        app.get(f"/jobs/{big}/tasks", params={"limit": 1, "cursor": tasks_cursor_of[big]}).status_code == 200
    )
    assert app.get(f"/jobs/{ids[0]}/events", params={"limit": 1, "cursor": events_cursor}).status_code == 200
    assert state(app) == before
    assert state(other) == other_before
    for client in (app, other):
        credits = client.credits()
        assert credits["reserved"] == 0
        assert credits["granted"] == credits["available"] + credits["reserved"] + credits["charged"]


def test_the_first_page_of_tasks_hands_out_a_cursor_for_the_tasks_route(
    make_user: Callable[..., Client],
) -> None:
    # GIVEN a job with more tasks than the job view's first page
    app = make_user(credits=101)
    job_id = app.create(sim_job(101, latency=0))["jobId"]
    job = app.wait(job_id, timeout=120)
    assert job["tasksCursor"]
    # THEN its cursor reads the rest at /jobs/{id}/tasks, and nowhere else
    rest = app.get(f"/jobs/{job_id}/tasks", params={"cursor": job["tasksCursor"]})
    assert rest.status_code == 200, rest.text
    assert [t["index"] for t in rest.json()["items"]] == [100]
    assert app.get(f"/jobs/{job_id}/events", params={"cursor": job["tasksCursor"]}).status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "collectionId=%ED%A0%80",
        "collectionId=%FF",
        "collectionId=%00",
        "cursor=%ED%A0%80",
        "cursor=%FF%FE",
        "cursor=" + "A" * 2048,
        "status=%ED%A0%80",
        "limit=1e400",
        "limit=NaN",
    ],
)
def test_bad_query_values_are_refused_or_answered_never_500(app: Client, query: str) -> None:
    before = state(app)
    response = app.get(f"/jobs?{query}")
    assert response.status_code < 500, response.text
    assert state(app) == before
