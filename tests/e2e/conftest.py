"""One embedded stack for every end-to-end test (the real template, state machine and handlers),
and a small HTTP client that speaks to it as an app would."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from genjobs_local.stack import LocalStack
from tests.e2e.invariants import assert_everything_settled

# Wall seconds per schedule second: a 20 s simulated image takes 0.4 s, the sweeper runs every 1.2 s.
TIME_SCALE = 0.02
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# Most a wait on a job that keeps moving may take, in its bound (Client.wait).
WAIT_CAP = 4


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack.start(time_scale=TIME_SCALE, state_dir=tmp_path_factory.mktemp("stack")) as started:
        yield started
        # Every function and the state machine ran with their own role: a call the deployed role
        # would deny fails the session, even where the product swallows the error.
        assert started.identities is not None
        denied = sorted({(d.principal, d.action, d.resource) for d in started.identities.denials})
        assert denied == [], f"calls the template's roles deny: {denied}"


# Schedule seconds the jobs still running after the last test may take to end (at TIME_SCALE: 2 min).
SETTLE_BOUND = 6000


@pytest.fixture(scope="session", autouse=True)
def everything_settles(stack: LocalStack) -> Iterator[None]:
    """After the last test, whatever it did: every job ends in bounded time and every credit balances
    (granted = available + reserved + charged, nothing reserved, each job's reservation charged or
    refunded)."""
    yield
    assert_everything_settled(stack, SETTLE_BOUND * TIME_SCALE)


class Client:
    """The public API as one user sees it."""

    def __init__(self, stack: LocalStack, user: str, *, admin: bool = False) -> None:
        self.stack = stack
        self.user = user
        self.base = stack.api_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {stack.mint_token(user, admin=admin)}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.base}{path}", timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def create(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = self.post("/jobs", json=body, **kwargs)
        assert response.status_code == 202, response.text
        return dict(response.json())

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(
        self, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        """Polls the job until `until` holds (default: it ended).

        Fails once the job has gone `timeout` seconds without moving (its status or a count of its
        tasks), or after WAIT_CAP times `timeout` in all: a busy machine stretches a job that keeps
        moving (the local stack is one process, sharing the cores with the other lanes), while a
        job that is stuck still fails in bounded time."""
        until = until or (lambda job: job["status"] in TERMINAL)
        started = last_move = time.monotonic()
        seen: tuple[Any, ...] | None = None
        while True:
            job = self.job(job_id)
            if until(job):
                return job
            now = time.monotonic()
            moved = (job["status"], tuple(sorted(job["counts"].items())))
            if moved != seen:
                seen, last_move = moved, now
            if now - last_move > timeout or now - started > WAIT_CAP * timeout:
                raise AssertionError(
                    f"job {job_id} still {job['status']} {job['counts']} after {now - started:.0f}s"
                    f" ({now - last_move:.0f}s without moving; bound {timeout}s)"
                )
            time.sleep(0.1)

    def credits(self) -> dict[str, Any]:
        return dict(self.get("/credits").json())

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/jobs/{job_id}/events").json()["items"])


def provider_webhook_secret(stack: LocalStack) -> str:
    """The simulator's signing secret, where the functions read it: the provider secret."""
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.resource("ProviderSecret"))
    return str(json.loads(secret["SecretString"])["simulator"]["webhookSecret"])


@pytest.fixture
def no_sweeper(stack: LocalStack) -> Iterator[None]:
    """The scheduled sweeper stays out of the way (it would poll and end tasks a webhook test watches)."""
    stack.override_handler("SweeperFunction", lambda event, context: {})
    try:
        yield
    finally:
        stack.override_handler("SweeperFunction", None)


@pytest.fixture(scope="session")
def operator(stack: LocalStack) -> Client:
    return Client(stack, "operator", admin=True)


@pytest.fixture
def make_user(stack: LocalStack, operator: Client) -> Callable[..., Client]:
    """A new user (isolated from every other test) with `credits` granted."""

    def make(credits: int = 50) -> Client:
        user = f"user-{uuid.uuid4().hex[:12]}"
        if credits:
            response = operator.post(
                "/admin/credits", json={"userId": user, "amount": credits, "grantId": f"grant-{user}"}
            )
            assert response.status_code == 200, response.text
        return Client(stack, user)

    return make


@pytest.fixture
def app(make_user: Callable[..., Client]) -> Client:
    return make_user()


def sim_job(n: int = 1, *, model: str = "sim-image", **sim: Any) -> dict[str, Any]:
    """A job of n simulator tasks; `sim` scripts the simulated provider (see genjobs_local.simulator)."""
    return {
        "provider": "simulator",
        "model": model,
        "input": {"prompt": "test", "sim": {"latency": 5, **sim}},
        "tasks": [{"seed": i} for i in range(n)],
    }


# ---- helpers of the workflow tests ---------------------------------------------------------------
def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Polls `check` until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached after {timeout}s")
        time.sleep(0.05)


class Phone:
    """A device registered with POST /devices; reads what SNS delivered to its platform endpoint."""

    def __init__(self, client: Client) -> None:
        self.token = f"fcm-{uuid.uuid4().hex}"
        response = client.post("/devices", json={"platform": "FCM", "token": self.token})
        assert response.status_code in (200, 201), response.text

    def pushes(self) -> list[str]:
        from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
        from moto.sns.models import sns_backends

        backend = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        return [
            str(message)
            for endpoint in list(backend.platform_endpoints.values())
            if endpoint.token == self.token
            for message in list(endpoint.messages.values())
        ]


def sim_stats(stack: LocalStack) -> dict[str, Any]:
    return dict(requests.get(f"{stack.simulator_url}/_sim/stats", timeout=10).json())


def job_keys(job_id: str, n: int) -> list[str]:
    """The idempotency keys the submitter sends for a job's tasks."""
    return [f"{job_id}:{i}" for i in range(n)]
