"""Pausing a job: `pausedAt` on the job item, and a marker item (`JOB#<id>`, `PAUSE`) that lists the
paused job in the sweep index (gsi2, `SWEEP#PAUSE` by when it was paused) so that the sweeper
finds a job left paused too long. Each change is one transaction with its timeline event."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from genjobs.dal.dynamo import TableRepository, iso, update
from genjobs.dal.items import job_key
from genjobs.dal.timeline import TimelineRepository
from genjobs.models.domain import Job, JobStatus, TimelineEvent

SWEEP_PAUSES = "SWEEP#PAUSE"
# A cleared marker stays a day (the table's TTL deletes it): updated, never deleted, by those that clear it.
_CLEARED_KEPT = timedelta(days=1)


def _marker_key(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": "PAUSE"}


class PauseRepository(TableRepository):
    def __init__(self, table_name: str) -> None:
        super().__init__(table_name)
        self._timeline = TimelineRepository(table_name)

    def pause(self, job: Job, event: TimelineEvent) -> Job | None:
        """Pauses an active job not cancelling: the job as it now is, or None when it was not."""
        at = event.at
        job_update = update(
            job_key(job.job_id),
            set={"pausedAt": iso(at), "updatedAt": iso(at)},
            condition="#s IN (:pending, :processing) AND attribute_not_exists(pausedAt)",
            names={"#s": "status"},
            values={":pending": JobStatus.PENDING.value, ":processing": JobStatus.PROCESSING.value},
        )
        marker = {**_marker_key(job.job_id), "gsi2pk": SWEEP_PAUSES, "gsi2sk": iso(at), "jobId": job.job_id}
        items = [self.update_op(job_update), self.put(marker), self.put(self._timeline.event_item(event))]
        if not self._transact(items):
            return None
        return job.model_copy(update={"paused_at": at, "updated_at": at})

    def resume(self, job: Job, event: TimelineEvent) -> Job | None:
        """Clears a job's pause: the job as it now is, or None when it was not paused."""
        at = event.at
        job_update = update(
            job_key(job.job_id),
            set={"updatedAt": iso(at)},
            remove=("pausedAt",),
            condition="attribute_exists(pausedAt)",
        )
        items = [self.update_op(job_update), self.update_op(self._cleared(job.job_id, at))]
        items.append(self.put(self._timeline.event_item(event)))
        if not self._transact(items):
            return None
        return job.model_copy(update={"paused_at": None, "updated_at": at})

    def clear(self, job_id: str, at: datetime) -> None:
        """Takes the job off the sweeper's list (it ended, or was cancelled, while paused)."""
        self._table.update_item(**self._cleared(job_id, at))

    @staticmethod
    def _cleared(job_id: str, at: datetime) -> dict[str, Any]:
        expires = int((at + _CLEARED_KEPT).timestamp())
        return update(_marker_key(job_id), set={"expiresAt": expires}, remove=("gsi2pk", "gsi2sk"))

    def paused_since(self, before: datetime, limit: int = 100) -> list[str]:
        """Jobs paused before `before`."""
        return self._job_ids_marked(SWEEP_PAUSES, before, limit)
