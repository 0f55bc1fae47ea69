"""The local stack as a benchmark drives it: a metered stack, jobs over HTTP, state read in-process.

Everything the benchmark itself reads (job status, task items, simulator predictions) is read from
moto's and the simulator's memory, never through moto's HTTP server: the meter counts only the work
the system does, plus the app's POST /jobs and cancel calls, which are part of a job's cost.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from genjobs_local import metering
from genjobs_local.stack import LocalStack

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# One tiny job per waiting mode warms every function a job runs (polled: also the status check).
WARM_MODELS = ("sim-image", "sim-image-webhook")
CREATE_ATTEMPTS = 3
ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Bench:
    stack: LocalStack
    meter: metering.Meter
    scale: float
    session: requests.Session
    user: str

    @classmethod
    def start(
        cls,
        scale: float,
        *,
        schedules: bool = False,
        credits: int = 1_000_000,
        parameters: dict[str, str] | None = None,
        warm_models: tuple[str, ...] = WARM_MODELS,
    ) -> Bench:
        """A stack at TIME_SCALE `scale` (template `parameters` over the defaults) with a user holding
        `credits`; the meter starts at zero.

        Schedules (the sweeper) are off unless asked for: on AWS it runs once a minute whatever the
        load, so it is a fixed cost per hour, not work per image (priced separately).
        """
        meter = metering.enable()
        stack = LocalStack.start(time_scale=scale, schedules=schedules, parameters=parameters)
        user = f"bench-{uuid.uuid4().hex[:8]}"
        bench = cls(stack, meter, scale, requests.Session(), user)
        bench.session = bench.add_user(user, credits)
        bench.warm_up(warm_models)
        return bench

    def add_user(self, user: str, credits: int = 1_000_000, plan: str | None = None) -> requests.Session:
        """A session of `user`, granted `credits`; `plan` is assigned as an operator does, on the
        user's account item (the default plan otherwise)."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.stack.mint_token(user)}"
        admin = requests.Session()
        admin.headers["Authorization"] = f"Bearer {self.stack.mint_token('ops', admin=True)}"
        granted = admin.post(
            f"{self.stack.api_url}/admin/credits",
            json={"userId": user, "amount": credits, "grantId": f"g-{user}"},
            timeout=30,
        )
        granted.raise_for_status()
        if plan is not None:
            self.stack.client("dynamodb").update_item(
                TableName=self._table(),
                Key={"pk": {"S": f"USER#{user}"}, "sk": {"S": "CREDITS"}},
                UpdateExpression="SET #plan = :plan",
                ExpressionAttributeNames={"#plan": "plan"},
                ExpressionAttributeValues={":plan": {"S": plan}},
            )
        return session

    def warm_up(self, models: tuple[str, ...] = WARM_MODELS) -> None:
        """One tiny job per model, so every function is imported (warm, as most AWS invocations are)
        before the meter is reset: the measured durations are warm invocations."""
        # Latency 1 s, not 0: a polled task that has ended by its submission is never checked, and
        # the check function must be warm too.
        jobs = [self.create(sim_job(1, model=model, latency=1))[0] for model in models]
        self.wait(jobs, 120)
        self.wait_quiet()
        self.meter.reset()

    def stop(self) -> None:
        self.stack.stop()

    # ---- the app's calls (counted: they are part of a job's cost) ----
    def create(self, body: dict[str, Any], session: requests.Session | None = None) -> tuple[str, float]:
        """POST /jobs (as the bench's user, or `session`'s); returns the job id and the request's wall seconds."""
        key = uuid.uuid4().hex
        started = time.perf_counter()
        for attempt in range(CREATE_ATTEMPTS):
            try:
                response = (session or self.session).post(
                    f"{self.stack.api_url}/jobs", json=body, headers={"Idempotency-Key": key}, timeout=120
                )
                break
            except requests.ConnectionError:
                # The local front's listen backlog overflows under bursts of creates: as an app does,
                # send the same request again with the same key (a job already made is answered again).
                if attempt + 1 == CREATE_ATTEMPTS:
                    raise
        elapsed = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"POST /jobs answered {response.status_code}: {response.text[:500]}")
        return str(response.json()["jobId"]), elapsed

    def cancel(self, job_id: str) -> float:
        """POST /jobs/{id}/cancel; returns time.monotonic() when the response arrived."""
        response = self.session.post(f"{self.stack.api_url}/jobs/{job_id}/cancel", timeout=60)
        if response.status_code != 202:
            raise RuntimeError(f"cancel answered {response.status_code}: {response.text[:500]}")
        return time.monotonic()

    # ---- in-process reads (not counted) ----
    def _backend(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[ACCOUNT][REGION]

    def _table(self) -> str:
        return self.stack.resource("JobsTable")

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        # Without moto's DynamoDB lock: a dict lookup is safe enough for progress reads, and a stalled
        # stack (the 10,000-task run) can hold that lock for minutes.
        for _ in range(100):
            try:
                found = self._backend().get_item(self._table(), {"pk": {"S": pk}, "sk": {"S": sk}})
                return _plain(found.to_json()["Attributes"]) if found is not None else None
            except RuntimeError:  # the item changed while it was read: read again
                time.sleep(0.001)
        raise RuntimeError(f"could not read {pk}/{sk}")

    def job(self, job_id: str) -> dict[str, Any]:
        item = self.item(f"JOB#{job_id}", "JOB")
        assert item is not None, job_id
        return item

    def items(self, job_id: str, prefix: str) -> list[dict[str, Any]]:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._backend().get_table(self._table())
        with metering_lock():
            partition = table.items.get(DynamoType({"S": f"JOB#{job_id}"}))
            found = [] if partition is None else list(partition.values())
        return [_plain(i.to_json()["Attributes"]) for i in found if str(i.range_key.value).startswith(prefix)]

    def wait(self, job_ids: list[str], timeout: float, status: set[str] | None = None) -> float:
        """Until every job has a status in `status` (default: ended); returns time.monotonic() then."""
        wanted = status or TERMINAL
        deadline = time.monotonic() + timeout
        pending = list(job_ids)
        while pending:
            pending = [j for j in pending if self.job(j).get("status") not in wanted]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} jobs not {sorted(wanted)} after {timeout} s")
            time.sleep(0.01)
        return time.monotonic()

    def ended_within(self, job_ids: list[str], timeout: float) -> bool:
        """Whether every job ended within `timeout` seconds (a run that did not is still reported)."""
        try:
            self.wait(job_ids, timeout=timeout)
        except TimeoutError:
            return False
        return True

    def wait_quiet(self, timeout: float = 60) -> None:
        """Until the pollers are idle and no execution runs (late webhooks, notifier), in-process."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = any(e.status == "RUNNING" for m in backend.state_machines for e in m.executions)
            busy = any(p.busy for p in self.stack._pollers)
            if not running and not busy:
                time.sleep(0.2)
                if not any(p.busy for p in self.stack._pollers):
                    return
            time.sleep(0.05)

    def predictions(self) -> list[Any]:
        sim = self.stack._simulator
        with sim.state.lock:
            return list(sim.state.predictions.values())

    def sim_stats(self) -> dict[str, Any]:
        return dict(self.stack._simulator.stats())


def metering_lock() -> Any:
    """moto's DynamoDB lock (moto_adjustments): reads of its dicts must not race its writes."""
    from genjobs_local import moto_adjustments

    return moto_adjustments._dynamodb_lock


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def sim_job(
    n: int,
    *,
    model: str,
    latency: float,
    concurrency: int | None = None,
    **sim: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider": "simulator",
        "model": model,
        "input": {"prompt": "bench", "sim": {"latency": latency, "queueSeconds": 0, **sim}},
        "matrix": {"seed": list(range(n))},
    }
    if concurrency is not None:
        body["concurrency"] = concurrency
    return body
