"""GIVEN steps shared by the unit tests: users with credits, jobs at each stage of their life; and
how a task's waiting SubmitTask was answered."""

from __future__ import annotations

from typing import Any

from genjobs.logic import jobs, submission, tasks
from genjobs.logic.preparation import prepare
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import Job, Task, TaskStatus
from genjobs.models.messages import SubmitTask, TaskEnded, TaskRef
from genjobs.providers.base import ProviderStatus, TaskState
from tests.unit.fakes import FakeDeps, data_uri

USER = "alice"


def granted(deps: FakeDeps, amount: int = 10, user: str = USER) -> None:
    assert deps.credits.grant(user, amount, f"welcome-{user}", None)


def created(deps: FakeDeps, n: int = 3, *, model: str = "sim-image", user: str = USER, **extra: Any) -> str:
    """A job of `n` tasks, created (its workflow not run yet)."""
    request = CreateJobRequest(
        provider="simulator", model=model, tasks=[{"seed": i} for i in range(n)], **extra
    )
    return jobs.create_job(deps, user, request, None).job_id


def prepared(deps: FakeDeps, n: int = 3, **kwargs: Any) -> str:
    """A job whose task items are written (PrepareJob ran)."""
    job_id = created(deps, n, **kwargs)
    prepare(deps, job_id)
    return job_id


def submitted(
    deps: FakeDeps, n: int = 3, *, token: str = "tok", only: int | None = None, **kwargs: Any
) -> str:
    """A job whose every task (or its first `only`) the provider accepted (PROCESSING)."""
    job_id = prepared(deps, n, **kwargs)
    for i in range(n if only is None else only):
        submission.submit(deps, message(job_id, i, f"{token}-{i}"), 1)
    return job_id


def cancelled_while_running(deps: FakeDeps, n: int = 2) -> str:
    """A job of `n` tasks running at the provider, then cancelled by its user (granted credits)."""
    granted(deps)
    job_id = submitted(deps, n)
    jobs.cancel_job(deps, USER, job_id)
    return job_id


def task_succeeded(deps: FakeDeps, job_id: str, index: int = 0) -> None:
    """The provider reported the task done, with one output."""
    status = observed(TaskState.SUCCEEDED, outputs=[data_uri()])
    tasks.apply_status(deps, deps.world.jobs[job_id], task_of(deps, job_id, index), status)


def task_failed(deps: FakeDeps, job_id: str, index: int = 0) -> None:
    """The provider reported the task failed."""
    status = observed(TaskState.FAILED, error="boom")
    tasks.apply_status(deps, deps.world.jobs[job_id], task_of(deps, job_id, index), status)


def ref(job_id: str, index: int = 0) -> TaskRef:
    return TaskRef(jobId=job_id, taskIndex=index)


def message(job_id: str, index: int = 0, token: str = "tok") -> SubmitTask:
    """The state machine's SubmitQueue message for one task, with the token its child waits on."""
    return SubmitTask(jobId=job_id, taskIndex=index, taskToken=token)


# The success answer: nothing is left to wait for, the task's child ends.
ENDED = TaskEnded().to_wire()


def answers(deps: FakeDeps, token: str) -> list[Any]:
    """How the child waiting on `token` was answered, in order: ENDED, or a failure's error name
    (POLL_PROVIDER: wait for the provider, then check the task)."""
    return [a if a == ENDED else a["error"] for a in deps.workflow.answers.get(token, [])]


def job_of(deps: FakeDeps, job_id: str) -> Job:
    job = deps.world.jobs[job_id]
    return job


def task_of(deps: FakeDeps, job_id: str, index: int = 0) -> Task:
    return deps.world.tasks[(job_id, index)]


def statuses(deps: FakeDeps, job_id: str) -> list[TaskStatus]:
    return [t.status for t in deps.tasks.of_job(job_id)]


def observed(
    state: TaskState,
    *,
    outputs: list[str] | None = None,
    progress: float | None = None,
    error: str | None = None,
) -> ProviderStatus:
    return ProviderStatus(
        provider_id="p",
        state=state,
        outputs=outputs or [],
        progress=progress,
        error=error,
        raw_status=state.value.lower(),
    )


def invariant_holds(deps: FakeDeps, user: str = USER) -> bool:
    account = deps.credits.account(user)
    return account.granted == account.available + account.reserved + account.charged
