"""Expanding a job's stored plan into task items and the Distributed Map's manifest."""

from __future__ import annotations

from genjobs.logic import planning
from genjobs.logic.job_model import first_wait, model_of
from genjobs.logic.ports import Collaborators
from genjobs.models.domain import Plan, Task, TaskStatus, TimelineEvent, utcnow
from genjobs.models.messages import PrepareJobOutput, TaskRef

BATCH = 500


def manifest_key(job_id: str) -> str:
    return f"manifests/{job_id}.json"


def prepare(deps: Collaborators, job_id: str) -> PrepareJobOutput:
    """Idempotent: a replay after the tasks exist writes nothing and returns the same manifest."""
    job = deps.jobs.get(job_id)
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
                deps.tasks.put_many(batch)
                batch = []
        if batch:
            deps.tasks.put_many(batch)
        deps.checkpoints.reach("prepare.after_tasks_written", job.user_id, job_id)
        deps.storage.put_json(
            manifest_key(job_id),
            [TaskRef(jobId=job_id, taskIndex=i).to_wire() for i in range(job.task_count)],
        )
        started = deps.jobs.mark_started(job_id)
        deps.timeline.add(
            TimelineEvent(
                jobId=job_id,
                at=utcnow(),
                kind="job.started",
                detail={"taskCount": job.task_count, "concurrency": job.concurrency},
            )
        )
        job = started or job
    return PrepareJobOutput(
        jobId=job_id,
        manifestKey=manifest_key(job_id),
        concurrency=job.concurrency,
        taskCount=job.task_count,
        # A job cancelled before its tasks run goes straight to settlement: no task is submitted.
        cancelRequested=job.cancel_requested,
        # The model is the job's: every polled task is first checked after the same wait.
        firstCheckSeconds=first_wait(model_of(deps, job), deps),
        heartbeatSeconds=deps.settings.heartbeat_seconds,
        deadlineSeconds=deps.settings.task_deadline_seconds,
    )
