"""Logic is handed one `Collaborators` (genjobs.logic.ports): the functions' Deps and the unit tests'
fakes both offer every member of it, so a unit test runs the logic as a function does."""

from __future__ import annotations

import dataclasses

from genjobs.deps import Deps
from genjobs.logic import credits
from genjobs.logic.ports import Collaborators
from tests.unit.fakes import FakeDeps
from tests.unit.scenario import USER, granted

MEMBERS = sorted(name for name, member in vars(Collaborators).items() if isinstance(member, property))


def handed(collaborators: Collaborators) -> Collaborators:
    """Typed by the protocol, so a type check of this module checks the fakes satisfy it."""
    return collaborators


def test_the_functions_collaborators_offer_everything_logic_is_handed() -> None:
    # GIVEN what the functions build (fields, and collaborators built on first use)
    offered = {f.name for f in dataclasses.fields(Deps)} | set(dir(Deps))

    # THEN it offers every member of the protocol
    assert MEMBERS
    assert set(MEMBERS) - offered == set()


def test_the_fakes_offer_everything_logic_is_handed(deps: FakeDeps) -> None:
    # GIVEN the in-memory collaborators, as logic sees them
    collaborators = handed(deps)

    # THEN each member is there, and logic reads through them what the fakes hold
    missing = [name for name in MEMBERS if not hasattr(collaborators, name)]
    assert missing == []
    granted(deps, 7)
    assert credits.balance(collaborators, USER).available == 7
