"""The safety net, run on a schedule: starts jobs whose workflow never started, sends the provider
cancel of in-flight tasks of cancelled jobs (webhook waits have no wake-up of their own), and polls
tasks whose webhook is overdue so a lost webhook never leaves a task or a job hanging. An overdue
task is looked at with growing intervals derived from how long it has been overdue: a look that
finds it still running reads, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from genjobs.logic.chains import answer_after
from genjobs.logic.ports import Collaborators
from genjobs.logic.providers import provider_for
from genjobs.logic.signals import is_signal
from genjobs.logic.signals import sweep as sweep_signal
from genjobs.logic.task_answer import DONE
from genjobs.logic.task_end import TaskGone, load
from genjobs.logic.tasks import apply_status, cancel_at_provider, observation_failed
from genjobs.models.domain import Task, TaskStatus, TimelineEvent, utcnow
from genjobs.models.messages import TaskRef
from genjobs.observability import logger, metrics
from genjobs.providers.base import CancelOutcome, ProviderError, ProviderStatus, TaskState


def sweep(deps: Collaborators, scheduled_for: datetime | None = None) -> dict[str, int]:
    """One pass. `scheduled_for` is the time the schedule meant this pass for (see `pass_time`)."""
    settings = deps.settings
    now = deps.clock.now()
    pass_at = pass_time(deps, scheduled_for)
    started = 0
    for job_id in deps.jobs.not_started(now - deps.clock.duration(settings.sweeper_interval_seconds)):
        job = deps.jobs.get(job_id)  # a retried job's run is named after its retry
        if deps.workflow.start(job_id, job.retries if job else 0):
            started += 1
            deps.timeline.add(TimelineEvent(jobId=job_id, at=now, kind="job.started_by_sweeper"))
    cancelled = 0
    for job_id in deps.jobs.cancelling():
        try:
            cancelled += cancel_in_flight(deps, job_id, by="sweeper")
        except Exception:  # noqa: BLE001 - one bad job must not stop the sweep
            logger.exception("cancel sweep of a job failed", extra={"jobId": job_id})
    rescued = 0
    for job_id, index in deps.tasks.webhooks_overdue(
        pass_at, wanted=lambda due: looks_now(deps, due, pass_at)
    ):
        try:
            if rescue_task(deps, TaskRef(jobId=job_id, taskIndex=index)):
                rescued += 1
        except Exception:  # noqa: BLE001 - one bad task must not stop the sweep
            logger.exception("sweep of a task failed", extra={"jobId": job_id, "taskIndex": index})
    # A job the sweeper had to start was stuck: the API starts every job at creation.
    metrics.add_metric(name="StuckJobs", unit="Count", value=started)
    metrics.add_metric(name="TasksRescued", unit="Count", value=rescued)
    return {
        "jobsStarted": started,
        "tasksRescued": rescued,
        "cancelsSent": cancelled,
    }


def cancel_in_flight(deps: Collaborators, job_id: str, by: str) -> int:
    """Stops at the provider every task of a cancelled job that is still running there. Sent by the
    submitter as soon as the job is cancelled, and by each sweeper pass until none can be left."""
    sent = 0
    for task in deps.tasks.in_status(job_id, TaskStatus.PROCESSING):
        if task.provider_cancelled_at is None and task.provider_id:
            rescue_task(deps, TaskRef(jobId=job_id, taskIndex=task.index), by=by)
            sent += 1
    job = deps.jobs.get(job_id)
    # A submission racing the cancel may still start a task: keep visiting until none can.
    if job is None or job.status.terminal or job.counts.pending == 0:
        deps.jobs.clear_cancel_mark(job_id)
    return sent


def rescue_task(deps: Collaborators, ref: TaskRef, by: str = "sweeper") -> bool:
    """Polls an overdue webhook task once; answers its token when it has ended. True if it ended."""
    try:
        job, task = load(deps, ref)
    except TaskGone:
        return False
    if is_signal(job, task):
        return sweep_signal(deps, job, task)
    token = task.task_token
    if not task.status.terminal and task.provider_id:
        try:
            outcome = cancel_at_provider(deps, job, task, by=by)
            if outcome in {CancelOutcome.CANCELED, CancelOutcome.NOT_FOUND}:
                status = ProviderStatus(
                    provider_id=task.provider_id, state=TaskState.CANCELED, raw_status="canceled"
                )
            else:
                status = provider_for(deps, job.provider).status(task.provider_id)
            if status.state.is_terminal:
                # Only a look that found an end is worth a timeline entry: one that finds the task
                # still running writes nothing.
                deps.timeline.add(
                    TimelineEvent(
                        jobId=job.job_id,
                        at=utcnow(),
                        kind="task.swept",
                        taskIndex=task.index,
                        detail={"providerStatus": status.raw_status},
                    )
                )
            result = apply_status(deps, job, task, status)
        except ProviderError as error:
            logger.warning("sweeper could not poll", extra={"jobId": job.job_id, "error": str(error)})
            result = observation_failed(deps, job, task, error)
        if result is not DONE:
            # Still running: nothing is written (the next look follows from its age, see looks_now).
            if token and heartbeat_due(deps, task):
                deps.workflow.heartbeat(token)
            return False
    if token:
        answer_after(deps, token, DONE, job, task.index)
    return True


def heartbeat_due(deps: Collaborators, task: Task) -> bool:
    """Whether this look must keep the task's wait alive, because the next one may come too late.

    With no record of the last heartbeat, the looks that send one are those within the longest gap
    between two looks before a multiple of a period short enough (the heartbeat, less that gap and
    one late pass) that two heartbeats are never more than a heartbeat apart.
    """
    settings = deps.settings
    longest = settings.sweep_backoff_max_seconds
    period = settings.heartbeat_seconds - longest - settings.sweeper_interval_seconds
    if task.submitted_at is None or period <= 0:
        return True
    age = deps.clock.seconds_since(task.submitted_at)
    return int((age + longest) // period) > int(age // period)


def look_offsets(deps: Collaborators) -> Iterator[float]:
    """When an overdue task is looked at, in schedule seconds after it became due: at once, then
    after the sweeper's interval, doubling each time up to the configured maximum (a webhook may
    still come; each look costs a status read)."""
    settings = deps.settings
    at, gap = 0.0, float(settings.sweeper_interval_seconds)
    while True:
        yield at
        at += min(gap, settings.sweep_backoff_max_seconds)
        gap *= 2


def pass_time(deps: Collaborators, scheduled_for: datetime | None) -> datetime:
    """The moment a pass stands for: the time its schedule meant it for, else (a replayed or
    hand-made event, one older than the longest gap between two looks, or one from a clock ahead
    of ours) now.

    Passes meant for times one interval apart cover every moment exactly once between them, however
    late each one starts: a pass that reads the clock instead skips the looks that fell between a
    late start and the next one's, and takes twice those of an early start's. A skipped look can be
    the one that keeps a task's wait alive (`heartbeat_due`)."""
    now = deps.clock.now()
    if scheduled_for is None:
        return now
    late = deps.clock.seconds_since(scheduled_for)
    if 0 <= late <= deps.settings.sweep_backoff_max_seconds:
        return scheduled_for
    return now


def looks_now(deps: Collaborators, due: datetime, pass_at: datetime | None = None) -> bool:
    """Whether the pass for `pass_at` (now by default) looks at a task due at `due`: one of its
    looks fell within the interval before it. Derived from its age, so that a look that finds it
    still running writes nothing."""
    before = 0.0 if pass_at is None else deps.clock.seconds_since(pass_at)
    overdue_for = deps.clock.seconds_since(due) - before
    for at in look_offsets(deps):
        if at > overdue_for:
            return False
        if at > overdue_for - deps.settings.sweeper_interval_seconds:
            return True
    return False  # pragma: no cover - the offsets never end
