"""The dispatcher's order among held tasks: plan priority (aged: one level per
PRIORITY_AGING_SECONDS waited), then the user with fewest tasks in flight, then the longest waiting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from genjobs.logic.dispatch import effective_priority, pick
from genjobs.models.persistence import Held

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AGING = 60


def held(user: str, *, priority: int = 0, since: float = 0, index: int = 0) -> Held:
    return Held("job-" + user, index, user, priority, T0 + timedelta(seconds=since))


def waited_at(now: float) -> Callable[[Held], float]:
    """The picker's clock: how long a task has waited at `now` (seconds after T0)."""
    return lambda h: now - (h.since - T0).total_seconds()


def test_a_higher_plan_goes_first_even_when_it_came_later() -> None:
    free, pro = held("free", priority=0, since=0), held("pro", priority=20, since=5)
    assert pick([free, pro], {}, waited_at(10), AGING) is pro


def test_a_lower_plan_moves_up_with_age_so_it_is_never_starved() -> None:
    # GIVEN a free task that has waited 21 aging periods and a pro task (priority 20) just arrived
    free, pro = held("free", priority=0, since=0), held("pro", priority=20, since=21 * AGING)
    # THEN it has caught up with the pro plan, and goes first as the longest waiting
    assert effective_priority(free, 21 * AGING, AGING, top=20) == 20
    assert pick([pro, free], {}, waited_at(21 * AGING), AGING) is free


def test_at_equal_priority_the_user_with_fewest_in_flight_goes_first() -> None:
    busy, newcomer = held("busy", since=0), held("newcomer", since=30)
    assert pick([busy, newcomer], {"busy": 40, "newcomer": 0}, waited_at(40), AGING) is newcomer


def test_waiting_longer_does_not_put_a_busy_user_before_a_newcomer_of_the_same_plan() -> None:
    # GIVEN a busy user's task held 10 aging periods and a newcomer's held for one
    busy, newcomer = held("busy", since=0), held("newcomer", since=9 * AGING)
    # THEN the newcomer, with nothing in flight, goes first
    assert pick([busy, newcomer], {"busy": 2, "newcomer": 0}, waited_at(10 * AGING), AGING) is newcomer


def test_then_the_longest_waiting_goes_first() -> None:
    older, newer = held("a", since=0, index=1), held("b", since=1, index=0)
    assert pick([newer, older], {"a": 1, "b": 1}, waited_at(2), AGING) is older


def test_nothing_waiting_picks_nothing() -> None:
    assert pick([], {}, waited_at(0), AGING) is None
