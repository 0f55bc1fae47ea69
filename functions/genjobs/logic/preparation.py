"""Expanding a job's stored plan into task items and the Distributed Map's manifest."""

from __future__ import annotations

from typing import Any

from genjobs.deps import Deps
from genjobs.logic import planning
from genjobs.logic.tasks import waits_by_webhook
from genjobs.models.domain import Plan, Task, TaskStatus, TimelineEvent, utcnow

BATCH = 500


def manifest_key(job_id: str) -> str:
    return f"manifests/{job_id}.json"


def prepare(deps: Deps, job_id: str) -> dict[str, Any]:
    """Idempotent: a replay after the tasks exist writes nothing and returns the same manifest."""
    job = deps.table.get_job(job_id)
    if job is None:
        raise LookupError(f"job {job_id} does not exist")
    if not job.prepared:
        plan, common_input = job.plan, job.input
        if job.spec_key:
            spec = deps.storage.get_json(job.spec_key)
            plan, common_input = Plan.model_validate(spec["plan"]), spec["input"]
        assert plan is not None, f"job {job_id} has neither a plan nor a spec key"
        now = utcnow()
        batch: list[Task] = []
        for index, task_input in enumerate(planning.expand(plan, common_input)):
            batch.append(
                Task(
                    jobId=job_id,
                    index=index,
                    status=TaskStatus.PENDING,
                    input=task_input,
                    createdAt=now,
                    updatedAt=now,
                )
            )
            if len(batch) == BATCH:
                deps.table.put_tasks(batch)
                batch = []
        if batch:
            deps.table.put_tasks(batch)
        deps.checkpoints.reach("prepare.after_tasks_written", job.user_id, job_id)
        deps.storage.put_json(
            manifest_key(job_id), [{"jobId": job_id, "taskIndex": i} for i in range(job.task_count)]
        )
        started = deps.table.mark_job_started(job_id)
        deps.table.add_event(
            TimelineEvent(
                jobId=job_id,
                at=utcnow(),
                kind="job.started",
                detail={"taskCount": job.task_count, "concurrency": job.concurrency},
            )
        )
        job = started or job
    return {
        "jobId": job_id,
        "manifestKey": manifest_key(job_id),
        "concurrency": job.concurrency,
        "taskCount": job.task_count,
        # Which child runs the tasks: a webhook task needs no state after its submission.
        "waitBy": "WEBHOOK" if waits_by_webhook(deps, job) else "POLL",
        "heartbeatSeconds": deps.settings.heartbeat_seconds,
        "deadlineSeconds": deps.settings.task_deadline_seconds,
    }
