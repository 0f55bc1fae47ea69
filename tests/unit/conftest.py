"""Unit tests run the domain logic against the in-memory fakes of its ports (tests/unit/fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genjobs.logic import providers
from tests.unit.fakes import FakeDeps, FakeProvider, fake_deps


@pytest.fixture
def deps() -> FakeDeps:
    return fake_deps()


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    """The adapter every job of the simulator provider talks to."""
    adapter = FakeProvider()
    monkeypatch.setattr(providers, "_cache", {"simulator": adapter})
    return adapter
