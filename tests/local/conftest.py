"""One local stack for the whole session, built from the real template.yaml; functions faked per test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from genjobs_local import LocalStack

TIME_SCALE = 0.01  # a schedule minute lasts 0.6 wall seconds


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir: Path = tmp_path_factory.mktemp("genjobs-local")
    # Schedules are fired by the tests (run_schedules_now) so background sweeps never interfere.
    with LocalStack.start(
        time_scale=TIME_SCALE,
        state_dir=state_dir,
        schedules=False,
        parameters={"SubmitMaxConcurrency": "3"},
    ) as started:
        yield started


class Overlap:
    """`with overlap:` around a piece of work: how many run it at once, and the most that ever did."""

    def __init__(self) -> None:
        self.running = self.peak = 0
        self._lock = threading.Lock()

    def __enter__(self) -> Overlap:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.running -= 1


class Recorder:
    """A fake function body: records every (event, context) and answers with `behaviour`."""

    def __init__(self, behaviour: Callable[[Any, Any], Any]) -> None:
        self.behaviour = behaviour
        self.calls: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, event: Any, context: Any) -> Any:
        with self._lock:
            self.calls.append(event)
        return self.behaviour(event, context)


@pytest.fixture
def fake(stack: LocalStack) -> Iterator[Callable[..., Recorder]]:
    """`fake("NotifierFunction", lambda event, context: ...)` replaces the code for one test."""
    replaced: list[str] = []

    def install(function: str, behaviour: Callable[[Any, Any], Any] = lambda e, c: None) -> Recorder:
        recorder = Recorder(behaviour)
        stack.override_handler(function, recorder)
        replaced.append(function)
        return recorder

    yield install
    stack.wait_idle(timeout=10)
    for function in replaced:
        stack.override_handler(function, None)
