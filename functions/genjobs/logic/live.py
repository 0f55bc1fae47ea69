"""The live channel: what every change of a job sends to its owner.

Changes come from the jobs table's stream (job and task items only, see the template's filter),
so no step of the workflow sends anything: whatever writes a job or task item is seen. A change is
what an app draws (status, percent, counts, outputs) and only a write that changed one of those
is sent. Changes are numbered per job in stream order and kept before they are posted, so the
number on the channel is the one `GET /jobs/{id}/events?after=` lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from genjobs.logic import views
from genjobs.logic.live_ports import LivePorts
from genjobs.models.domain import Job, Task, TaskStatus
from genjobs.models.live import ChangeKind, Connection, JobChange, LiveChange, TaskChange
from genjobs.models.persistence import ConnectionGone
from genjobs.observability import logger


# ---- the stream -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemChange:
    """One stream record of a job or task item: what it held before and after (None when absent)
    and its position in the stream."""

    sequence_number: str
    at: datetime
    old: Job | Task | None
    new: Job | Task | None


def _shown(item: Job | Task | None) -> tuple[ChangeKind, int | None, dict[str, Any]] | None:
    """(kind, task index, detail) an item shows an app; None for no item."""
    if item is None:
        return None
    if isinstance(item, Job):
        # As the API shows it: PAUSED while paused, so a pause or a resume reaches the app too.
        detail = JobChange(status=item.shown_status, percent=views.progress(item), counts=item.counts)
        return "job.changed", None, detail.model_dump(mode="json")
    task = item
    percent = 100.0 if task.status == TaskStatus.COMPLETED else task.progress
    outputs = [output.key for output in task.outputs]
    change = TaskChange(status=task.status, percent=percent, outputs=outputs, error=task.error)
    return "task.changed", task.index, change.model_dump(mode="json", exclude_none=True)


def _job_id(change: ItemChange) -> str:
    item = change.new or change.old
    assert item is not None, "a stream record has an image"
    return item.job_id


def deliver(ports: LivePorts, records: Iterable[ItemChange], now: datetime) -> int:
    """Numbers, keeps and posts the changes of a batch of stream records; returns how many frames
    were posted. `now` is the wall clock: tokens expire by it."""
    by_job: dict[str, list[ItemChange]] = {}
    for record in records:
        if record.new is not None:  # a removed item is no progress
            by_job.setdefault(_job_id(record), []).append(record)
    connections: dict[str, list[Connection]] = {}
    posted = 0
    for job_id, job_records in by_job.items():
        job = ports.jobs.get(job_id)
        if job is None:
            continue
        changes = _changes(job, job_records)
        if not changes:
            continue
        first = ports.live.number(job_id, len(changes), job_records[-1].sequence_number.zfill(40))
        if first is None:
            continue  # numbered and kept by an earlier delivery of the same records
        numbered = [c.model_copy(update={"seq": first + i}) for i, c in enumerate(changes)]
        ports.live.keep(numbered, int(now.timestamp()))
        if job.user_id not in connections:
            connections[job.user_id] = ports.live.of_user(job.user_id)
        posted += _post(ports, connections[job.user_id], numbered, now)
    return posted


def _changes(job: Job, records: list[ItemChange]) -> list[LiveChange]:
    changes = []
    for record in records:
        shown = _shown(record.new)
        if shown is None or shown == _shown(record.old):
            continue  # a write of what an app does not draw (tokens, heartbeats, sweep marks)
        kind, index, detail = shown
        step = job.steps[job.step_of(index)].name if job.steps and index is not None else None
        changes.append(
            LiveChange(
                jobId=job.job_id, seq=1, at=record.at, kind=kind, taskIndex=index, step=step, detail=detail
            )
        )
    return changes


def _post(ports: LivePorts, connections: list[Connection], changes: list[LiveChange], now: datetime) -> int:
    posted = 0
    for connection in list(connections):
        if connection.token_expires_at <= now.timestamp():
            # The token it was opened with has expired: delivery stops, the app opens a new one.
            ports.sockets.close(connection.connection_id)
            ports.live.close(connection)
            connections.remove(connection)
            continue
        if connection.job_id not in (None, changes[0].job_id):
            continue
        try:
            for change in changes:
                ports.sockets.post(connection.connection_id, _frame(change))
                posted += 1
        except ConnectionGone:
            ports.live.close(connection)
            connections.remove(connection)
        except Exception:  # noqa: BLE001 - the channel is a hint: one failed post must not stop the others
            logger.warning(
                "post to a connection failed", extra={"connectionId": connection.connection_id}, exc_info=True
            )
    return posted


def _frame(change: LiveChange) -> bytes:
    return json.dumps(change.frame(), separators=(",", ":")).encode()
