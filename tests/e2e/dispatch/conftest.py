"""A stack of its own for fair dispatch: small plans, a limited model and a short pause timeout
(template parameters), so limits bind within a few tasks. Its package's tests share it; it stops
before the other end-to-end tests start theirs (one stack per process)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from genjobs_local.stack import LocalStack
from tests.e2e.conftest import SETTLE_BOUND, TIME_SCALE, Client
from tests.e2e.invariants import assert_everything_settled

# pro's priority is the highest a plan may have: a free task ages one level per minute of schedule
# (1.2 s of the test), so it takes 2 minutes of a slow machine's wall time to catch up with pro.
PLANS = {"free": {"maxInFlight": 3, "priority": 0}, "pro": {"maxInFlight": 50, "priority": 100}}
# sim-background is limited to 2 at once across every user.
LIMITED_MODEL, MODEL_LIMIT = "sim-background", 2
# sim-3d to 3, 1 of them kept for users with nothing in flight.
RESERVED_MODEL, RESERVED_LIMIT, RESERVE = "sim-3d", 3, 1
PAUSE_TIMEOUT = 600


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    parameters = {
        "Plans": json.dumps(PLANS),
        "DefaultPlan": "free",
        "ProviderLimits": json.dumps(
            {
                f"simulator/{LIMITED_MODEL}": {"concurrency": MODEL_LIMIT},
                f"simulator/{RESERVED_MODEL}": {"concurrency": RESERVED_LIMIT, "reserve": RESERVE},
            }
        ),
        "PauseTimeoutSeconds": str(PAUSE_TIMEOUT),
    }
    with LocalStack.start(
        time_scale=TIME_SCALE, state_dir=tmp_path_factory.mktemp("dispatch"), parameters=parameters
    ) as started:
        yield started
        assert started.identities is not None
        denied = sorted({(d.principal, d.action, d.resource) for d in started.identities.denials})
        assert denied == [], f"calls the template's roles deny: {denied}"


@pytest.fixture(scope="package", autouse=True)
def everything_settles(stack: LocalStack) -> Iterator[None]:
    yield
    assert_everything_settled(stack, SETTLE_BOUND * TIME_SCALE)


@pytest.fixture(scope="package")
def operator(stack: LocalStack) -> Client:
    return Client(stack, "operator", admin=True)
