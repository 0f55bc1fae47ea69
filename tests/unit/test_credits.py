"""Credits: operators grant them once per grant id; the balance always adds up."""

from __future__ import annotations

import pytest

from genjobs.logic import credits
from genjobs.models.api import GrantCreditsRequest
from genjobs.models.domain import LedgerKind
from tests.unit.fakes import FakeDeps
from tests.unit.scenario import USER, created, granted, invariant_holds


def grant(deps: FakeDeps, amount: int, grant_id: str) -> bool:
    return credits.grant(deps, GrantCreditsRequest(userId=USER, amount=amount), grant_id).applied


def test_a_grant_adds_to_the_available_and_granted_credits(deps: FakeDeps) -> None:
    assert grant(deps, 50, "welcome")
    balance = credits.balance(deps, USER)
    assert (balance.available, balance.granted, balance.reserved, balance.charged) == (50, 50, 0, 0)


def test_a_grant_is_applied_once_per_grant_id(deps: FakeDeps) -> None:
    # GIVEN a grant applied
    assert grant(deps, 50, "welcome")
    # WHEN the operator sends it again
    applied = grant(deps, 50, "welcome")
    # THEN nothing more is added, and the answer says so
    assert applied is False
    assert credits.balance(deps, USER).granted == 50
    assert [e.kind for e in deps.credits.ledger(USER)] == [LedgerKind.GRANT]


def test_grants_with_different_ids_add_up(deps: FakeDeps) -> None:
    grant(deps, 50, "welcome")
    grant(deps, 25, "promo")
    assert credits.balance(deps, USER).available == 75


def test_a_user_never_granted_has_nothing(deps: FakeDeps) -> None:
    balance = credits.balance(deps, "nobody")
    assert (balance.available, balance.granted) == (0, 0)


@pytest.mark.parametrize("jobs_of", [[1], [2, 3], [1, 1, 1, 1]])
def test_the_balance_adds_up_after_reservations(deps: FakeDeps, jobs_of: list[int]) -> None:
    granted(deps, 10)
    for n in jobs_of:
        created(deps, n)
    balance = credits.balance(deps, USER)
    assert balance.reserved == sum(jobs_of)
    assert invariant_holds(deps)
