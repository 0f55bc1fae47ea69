"""Page cursors are opaque, bound to their caller and listing, and refused when tampered with."""

from __future__ import annotations

import base64
import json
import os

import pytest

from genjobs.logic.cursors import (
    InvalidCursor,
    events_listing,
    jobs_listing,
    open_cursor,
    seal,
    tasks_listing,
)

KEY = os.urandom(32)
JOB_KEY = {"pk": "JOB#a", "sk": "JOB", "gsi1pk": "USER#alice", "gsi1sk": "2026-01-01T00:00:00Z#a"}


def test_a_cursor_opens_for_its_caller_and_listing_and_says_nothing() -> None:
    # GIVEN the cursor of alice's job list
    cursor = seal(KEY, JOB_KEY, user_id="alice", listing=jobs_listing())
    assert cursor is not None
    # THEN it holds nothing readable (its text is random: a 3-letter word turns up in one run of
    # about 4,000, so the checks are on whole values), and opens to the same key for alice on the
    # same listing
    decoded = base64.urlsafe_b64decode(cursor + "==")
    assert "alice" not in cursor
    assert "JOB#a" not in cursor
    assert b"alice" not in decoded
    assert b"JOB#a" not in decoded
    assert b"USER#" not in decoded
    assert open_cursor(KEY, cursor, user_id="alice", listing=jobs_listing()) == JOB_KEY


def test_no_next_page_has_no_cursor() -> None:
    assert seal(KEY, None, user_id="alice", listing=jobs_listing()) is None
    assert open_cursor(KEY, None, user_id="alice", listing=jobs_listing()) is None


def tampered(cursor: str) -> list[str]:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    flips = []
    for position in (0, 12, len(raw) // 2, len(raw) - 1):
        changed = bytearray(raw)
        changed[position] ^= 1
        flips.append(base64.urlsafe_b64encode(bytes(changed)).decode().rstrip("="))
    return [*flips, cursor[:-2], cursor + "AA"]


def test_a_cursor_is_refused_when_tampered_with_or_used_by_another_user_or_listing() -> None:
    cursor = seal(KEY, JOB_KEY, user_id="alice", listing=tasks_listing("a"))
    assert cursor is not None
    refused = [
        *((c, "alice", tasks_listing("a")) for c in tampered(cursor)),
        (cursor, "bob", tasks_listing("a")),  # another user
        (cursor, "alice", tasks_listing("b")),  # another job's tasks
        (cursor, "alice", events_listing("a")),  # another route
        (cursor, "alice", jobs_listing()),
    ]
    for candidate, user, listing in refused:
        with pytest.raises(InvalidCursor) as caught:
            open_cursor(KEY, candidate, user_id=user, listing=listing)
        assert caught.value.status == 400
        assert caught.value.errors == [
            {"field": "cursor", "reason": "not a cursor this API returned to this caller for this listing"}
        ]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "\ud800",
        "A",
        base64.urlsafe_b64encode(json.dumps({"pk": "JOB#x", "sk": "TASK#000001"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"pk": "USER#bob", "other": 1}).encode()).decode(),
        base64.urlsafe_b64encode(b"\x00" * 64).decode(),
    ],
)
def test_a_cursor_this_api_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        open_cursor(KEY, cursor, user_id="alice", listing=jobs_listing())


def test_a_cursor_sealed_under_another_key_is_refused() -> None:
    cursor = seal(os.urandom(32), JOB_KEY, user_id="alice", listing=jobs_listing())
    with pytest.raises(InvalidCursor):
        open_cursor(KEY, cursor, user_id="alice", listing=jobs_listing())
