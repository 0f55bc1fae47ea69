"""The live channel's rules (logic.live, logic.live_access) against in-memory ports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from genjobs.logic import live, live_access
from genjobs.logic.errors import Forbidden, NotFound
from genjobs.models.domain import Job, JobCredits, JobStatus, Task, TaskCounts, TaskStatus
from genjobs.models.live import Connection, LiveChange
from genjobs.models.persistence import ConnectionGone, InvalidToken

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def a_job(
    job_id: str = "j1", user: str = "alice", status: JobStatus = JobStatus.PROCESSING, **counts: int
) -> Job:
    return Job(
        jobId=job_id,
        userId=user,
        status=status,
        provider="simulator",
        model="sim-image",
        taskCount=2,
        concurrency=2,
        counts=TaskCounts(**counts),
        credits=JobCredits(unitPrice=1, reserved=2),
        createdAt=NOW,
        updatedAt=NOW,
    )


def a_task(
    index: int = 0, status: TaskStatus = TaskStatus.PROCESSING, job_id: str = "j1", **fields: Any
) -> Task:
    return Task(jobId=job_id, index=index, status=status, input={}, **fields)


@dataclass
class Store:
    connections: dict[str, Connection] = field(default_factory=dict)
    counters: dict[str, tuple[int, str]] = field(default_factory=dict)
    kept: list[LiveChange] = field(default_factory=list)

    def open(self, connection: Connection) -> None:
        self.connections[connection.connection_id] = connection

    def find(self, connection_id: str) -> Connection | None:
        return self.connections.get(connection_id)

    def subscribe(self, connection: Connection, job_id: str | None) -> None:
        self.connections[connection.connection_id] = connection.model_copy(update={"job_id": job_id})

    def close(self, connection: Connection) -> None:
        self.connections.pop(connection.connection_id, None)

    def of_user(self, user_id: str) -> list[Connection]:
        return [c for c in self.connections.values() if c.user_id == user_id]

    def number(self, job_id: str, count: int, through_record: str) -> int | None:
        seq, through = self.counters.get(job_id, (0, ""))
        if through and through >= through_record:
            return None
        self.counters[job_id] = (seq + count, through_record)
        return seq + 1

    def keep(self, changes: list[LiveChange], now: int) -> None:
        self.kept += changes

    def after(self, job_id: str, seq: int, limit: int) -> list[LiveChange]:
        return [c for c in self.kept if c.job_id == job_id and c.seq > seq][:limit]


@dataclass
class Sockets:
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def post(self, connection_id: str, frame: bytes) -> None:
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        self.posted.append((connection_id, json.loads(frame)))

    def close(self, connection_id: str) -> None:
        self.closed.append(connection_id)


@dataclass
class Jobs:
    jobs: dict[str, Job]

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)


@dataclass
class Verifier:
    def claims(self, token: str) -> dict[str, Any]:
        if not token.startswith("valid-"):
            raise InvalidToken("forged")
        return {"sub": token.removeprefix("valid-"), "exp": int((NOW + timedelta(hours=1)).timestamp())}


@dataclass
class Ports:
    jobs: Jobs
    live: Store = field(default_factory=Store)
    sockets: Sockets = field(default_factory=Sockets)
    verifier: Verifier = field(default_factory=Verifier)


@pytest.fixture
def ports() -> Ports:
    found = Ports(Jobs({"j1": a_job(), "j2": a_job("j2"), "b1": a_job("b1", user="bob")}))
    for connection_id, user, job in (
        ("a-all", "alice", None),
        ("a-j2", "alice", "j2"),
        ("b-all", "bob", None),
    ):
        expires = int((NOW + timedelta(hours=1)).timestamp())
        found.live.open(
            Connection(connectionId=connection_id, userId=user, tokenExpiresAt=expires, jobId=job)
        )
    return found


def record(seq: int, old: Job | Task | None, new: Job | Task | None) -> live.ItemChange:
    return live.ItemChange(sequence_number=str(seq), at=NOW, old=old, new=new)


def test_changes_are_numbered_per_job_in_stream_order_and_kept_as_posted(ports: Ports) -> None:
    # GIVEN a batch with a task's progress, another job's task, then the first job's counts
    batch = [
        record(1, a_task(0, progress=10.0), a_task(0, progress=50.0)),
        record(2, None, a_task(0, TaskStatus.PENDING, job_id="j2")),
        record(3, a_job(processing=1), a_job(processing=0, completed=1)),
    ]
    # WHEN it is delivered
    live.deliver(ports, batch, NOW)
    # THEN each job's changes are numbered from 1 in stream order, kept, and posted with those numbers
    assert [(c.job_id, c.seq, c.kind) for c in ports.live.kept] == [
        ("j1", 1, "task.changed"),
        ("j1", 2, "job.changed"),
        ("j2", 1, "task.changed"),
    ]
    to_all = [f for cid, f in ports.sockets.posted if cid == "a-all"]
    assert [(f["jobId"], f["seq"]) for f in to_all] == [("j1", 1), ("j1", 2), ("j2", 1)]
    assert to_all[0]["detail"] == {"status": "PROCESSING", "percent": 50.0, "outputs": []}
    assert to_all[1]["detail"]["percent"] == 50.0  # 1 of 2 tasks ended
    # AND the one-job connection got its job only, the other user nothing
    assert [f["jobId"] for cid, f in ports.sockets.posted if cid == "a-j2"] == ["j2"]
    assert not [f for cid, f in ports.sockets.posted if cid == "b-all"]


def test_a_batch_delivered_again_is_neither_numbered_nor_sent_twice(ports: Ports) -> None:
    batch = [record(7, a_task(0, progress=10.0), a_task(0, progress=50.0))]
    live.deliver(ports, batch, NOW)
    live.deliver(ports, batch, NOW)
    assert [c.seq for c in ports.live.kept] == [1]
    assert len([f for cid, f in ports.sockets.posted if cid == "a-all"]) == 1


def test_a_write_that_changes_nothing_an_app_draws_sends_nothing(ports: Ports) -> None:
    batch = [record(1, a_task(0, taskToken="t1"), a_task(0, taskToken="t2", pollCount=3))]
    assert live.deliver(ports, batch, NOW) == 0
    assert ports.live.kept == []


def test_a_connection_past_its_token_expiry_is_closed_and_receives_nothing(ports: Ports) -> None:
    later = NOW + timedelta(hours=2)
    live.deliver(ports, [record(1, a_task(0, progress=10.0), a_task(0, progress=50.0))], later)
    assert ports.sockets.posted == []
    assert sorted(ports.sockets.closed) == ["a-all", "a-j2"]
    assert set(ports.live.connections) == {"b-all"}


def test_a_gone_connection_is_forgotten_and_the_others_still_receive(ports: Ports) -> None:
    ports.sockets.gone.add("a-all")
    ports.live.subscribe(ports.live.connections["a-j2"], None)
    live.deliver(ports, [record(1, a_task(0, progress=10.0), a_task(0, progress=50.0))], NOW)
    assert "a-all" not in ports.live.connections
    assert [cid for cid, _ in ports.sockets.posted] == ["a-j2"]


def test_connect_refuses_a_bad_token_and_another_users_job(ports: Ports) -> None:
    with pytest.raises(Forbidden):
        live_access.connect(ports, "c1", "forged", None)
    with pytest.raises(Forbidden):
        live_access.connect(ports, "c1", None, None)
    with pytest.raises(NotFound):
        live_access.connect(ports, "c1", "valid-alice", "b1")
    assert "c1" not in ports.live.connections
    assert live_access.connect(ports, "c1", "valid-alice", "j1").job_id == "j1"
