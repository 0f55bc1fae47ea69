"""How a task ends when its provider delivers nothing, how the sweeper spaces its visits, and what
the task list shows of a job whose task items are not all written yet (moto, no workflow)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from pydantic import ValidationError

from genjobs.catalog import Catalog
from genjobs.deps import Deps
from genjobs.logic import jobs, tasks
from genjobs.logic.ports import Accepted
from genjobs.logic.preparation import prepare
from genjobs.logic.settlement import settle
from genjobs.logic.sweeper import look_offsets, looks_now
from genjobs.models.api import CreateJobRequest
from genjobs.models.domain import Job, Task, TaskStatus, TimelineEvent, utcnow
from genjobs.providers.base import ProviderStatus, TaskState
from genjobs.settings import Settings


def prepared_job(deps: Deps, user: str, n: int = 1) -> Job:
    """A job of `n` tasks, prepared (its task items written, PENDING)."""
    deps.credits.grant(user, 10, f"grant-{user}", None)
    request = CreateJobRequest(
        provider="simulator", model="sim-image", tasks=[{"seed": i + 1} for i in range(n)]
    )
    job_id = jobs.create_job(deps, user, request, None).job_id
    prepare(deps, job_id)
    job = deps.jobs.get(job_id)
    assert job is not None
    return job


def running_task(deps: Deps, user: str) -> tuple[str, Task]:
    """A one-task job whose task the provider has accepted (PROCESSING)."""
    job = prepared_job(deps, user)
    job_id = job.job_id
    event = TimelineEvent(jobId=job_id, at=utcnow(), kind="task.submitted", taskIndex=0)
    assert deps.tasks.mark_submitted(job, 0, Accepted("p-1", utcnow()), event)
    task = deps.tasks.get(job_id, 0)
    assert task is not None
    return job_id, task


def running_job(deps: Deps, user: str) -> tuple[str, Job, Task]:
    """As running_task, with the job as stored once its task runs."""
    job_id, task = running_task(deps, user)
    job = deps.jobs.get(job_id)
    assert job is not None
    return job_id, job, task


def succeeded_with(outputs: list[str]) -> ProviderStatus:
    return ProviderStatus(
        provider_id="p-1", state=TaskState.SUCCEEDED, outputs=outputs, raw_status="succeeded"
    )


def test_success_with_no_output_fails_the_task_and_refunds_it(deps: Deps) -> None:
    # GIVEN a running task of a model whose success must deliver a file
    job_id, job, task = running_job(deps, "u1")
    # WHEN the provider reports success with no output
    assert tasks.apply_status(deps, job, task, succeeded_with([])) is tasks.DONE
    # THEN the task FAILED with the reason, and nothing was charged
    ended = deps.tasks.get(job_id, 0)
    assert ended is not None
    assert ended.status == TaskStatus.FAILED
    assert ended.error is not None
    assert ended.error.startswith("provider.no_output")
    account = deps.credits.account("u1")
    assert (account.available, account.reserved, account.charged) == (10, 0, 0)


def test_a_model_whose_success_may_carry_no_file_says_so_in_the_catalog(deps: Deps) -> None:
    # GIVEN a catalog where the model declares that its success may carry no file
    data = deps.catalog.model_dump(by_alias=True)
    data["providers"]["simulator"]["models"]["sim-image"]["outputOptional"] = True
    deps.catalog = Catalog.model_validate(data)  # type: ignore[misc]
    job_id, job, task = running_job(deps, "u2")
    # WHEN the provider reports success with no output
    tasks.apply_status(deps, job, task, succeeded_with([]))
    # THEN that is a success, charged
    ended = deps.tasks.get(job_id, 0)
    assert ended is not None
    assert ended.status == TaskStatus.COMPLETED
    assert deps.credits.account("u2").charged == 1


def test_the_sweeper_doubles_its_interval_per_sweep_up_to_the_configured_maximum(deps: Deps) -> None:
    # GIVEN the sweeper's interval (60 s) and its back-off maximum (900 s)
    # WHEN a task overdue is looked at and still unfinished, again and again
    offsets = list(itertools.islice(look_offsets(deps), 9))
    # THEN its next look comes after a doubling delay, capped
    delays = [round(b - a) for a, b in itertools.pairwise(offsets)]
    assert delays == [60, 120, 240, 480, 900, 900, 900, 900]
    assert deps.settings.sweep_backoff_max_seconds < deps.settings.heartbeat_seconds
    assert timedelta(seconds=max(delays)) < timedelta(seconds=deps.settings.heartbeat_seconds)


def test_a_sweep_back_off_that_would_let_a_wait_time_out_is_refused(deps: Deps) -> None:
    values = deps.settings.model_dump(by_alias=True) | {"SWEEP_BACKOFF_MAX_SECONDS": 3_600}
    with pytest.raises(ValidationError, match="SWEEP_BACKOFF_MAX_SECONDS"):
        Settings.model_validate(values)


def test_the_task_list_mixes_written_and_planned_tasks_in_order_while_the_job_is_prepared(deps: Deps) -> None:
    # GIVEN a 7-task job whose preparation has written only tasks 0, 1 and 4 so far
    deps.credits.grant("u3", 10, "g", None)
    request = CreateJobRequest(provider="simulator", model="sim-image", tasks=[{"seed": i} for i in range(7)])
    job_id = jobs.create_job(deps, "u3", request, None).job_id
    now = utcnow()
    deps.tasks.put_many(
        [
            Task(jobId=job_id, index=i, status=TaskStatus.PENDING, input={"seed": i}, createdAt=now)
            for i in (0, 1, 4)
        ]
    )
    # WHEN the app pages through the task list, 3 at a time
    seen = []
    cursor = None
    while True:
        page = jobs.list_tasks(deps, "u3", job_id, 3, cursor)
        seen.append([(t.index, t.input["seed"], t.status) for t in page.items])
        cursor = page.cursor
        if not cursor:
            break
    # THEN every index shows once, in order, with its planned input, PENDING
    assert seen == [
        [(0, 0, "PENDING"), (1, 1, "PENDING"), (2, 2, "PENDING")],
        [(3, 3, "PENDING"), (4, 4, "PENDING"), (5, 5, "PENDING")],
        [(6, 6, "PENDING")],
    ]


def test_tasks_of_a_job_that_ended_before_they_were_written_show_that_they_never_ran(deps: Deps) -> None:
    # GIVEN a 3-task job whose workflow ended (its preparation failed) before writing any task
    deps.credits.grant("u4", 10, "g", None)
    request = CreateJobRequest(provider="simulator", model="sim-image", tasks=[{"seed": i} for i in range(3)])
    job_id = jobs.create_job(deps, "u4", request, None).job_id
    settle(deps, job_id)
    # WHEN the app reads the job
    view = jobs.get_job(deps, "u4", job_id)
    # THEN it ended FAILED, refunded, and its tasks say they never ran rather than PENDING
    assert view.status == "FAILED"
    assert [(t.index, t.status) for t in view.tasks] == [(0, "FAILED"), (1, "FAILED"), (2, "FAILED")]
    assert all(t.error == "the job ended before this task started" for t in view.tasks)
    assert deps.credits.account("u4").reserved == 0
    # AND its counts agree with its tasks: none still PENDING
    assert view.counts.model_dump() == {
        "PENDING": 0,
        "PROCESSING": 0,
        "COMPLETED": 0,
        "FAILED": 3,
        "CANCELLED": 0,
        "SKIPPED": 0,
    }


def test_a_cancelled_job_that_ended_before_its_tasks_were_written_counts_them_cancelled(deps: Deps) -> None:
    # GIVEN a 2-task job cancelled before its workflow wrote any task
    deps.credits.grant("u5", 10, "g", None)
    request = CreateJobRequest(provider="simulator", model="sim-image", tasks=[{"seed": i} for i in range(2)])
    job_id = jobs.create_job(deps, "u5", request, None).job_id
    jobs.cancel_job(deps, "u5", job_id)
    # WHEN it settles (twice: a replayed settlement changes nothing)
    settle(deps, job_id)
    settle(deps, job_id)
    view = jobs.get_job(deps, "u5", job_id)
    # THEN it is CANCELLED with both tasks counted CANCELLED and their credits released
    assert view.status == "CANCELLED"
    assert view.counts.model_dump() == {
        "PENDING": 0,
        "PROCESSING": 0,
        "COMPLETED": 0,
        "FAILED": 0,
        "CANCELLED": 2,
        "SKIPPED": 0,
    }
    assert deps.credits.account("u5").model_dump(include={"available", "reserved"}) == {
        "available": 10,
        "reserved": 0,
    }


def running(progress: float | None = None) -> ProviderStatus:
    return ProviderStatus(
        provider_id="p-1", state=TaskState.RUNNING, progress=progress, raw_status="processing"
    )


def test_an_observation_that_changes_nothing_writes_nothing(deps: Deps) -> None:
    # GIVEN a running task that a poll found at 40 %
    job_id, job, task = running_job(deps, "u5")
    tasks.apply_status(deps, job, task, running(40.0))
    seen = deps.tasks.get(job_id, 0)
    assert seen is not None
    assert seen.progress == 40.0
    # WHEN later polls see it still running at the same progress, or with none
    tasks.apply_status(deps, job, seen, running(40.0))
    tasks.apply_status(deps, job, seen, running())
    # THEN the stored task is exactly as the first poll left it (no write, not even its updatedAt)
    assert deps.tasks.get(job_id, 0) == seen
    # AND a higher progress is written
    tasks.apply_status(deps, job, seen, running(70.0))
    after = deps.tasks.get(job_id, 0)
    assert after is not None
    assert after.progress == 70.0


def test_the_sweeper_reads_only_the_overdue_marks_it_wants(deps: Deps) -> None:
    # GIVEN two webhook tasks, one overdue for 150 s and one for 190 s
    job = prepared_job(deps, "u6", 2)
    job_id, now = job.job_id, utcnow()
    for index, overdue_for in ((0, 150), (1, 190)):
        due = now - timedelta(seconds=overdue_for)
        event = TimelineEvent(jobId=job_id, at=now, kind="task.submitted", taskIndex=index)
        assert deps.tasks.mark_submitted(job, index, Accepted(f"p-{index}", now, "tok", due), event)
    # WHEN the sweeper lists the tasks due for a look now (looks at 0, 60, 180... s overdue)
    wanted = deps.tasks.webhooks_overdue(now, wanted=lambda due: looks_now(deps, due))
    # THEN only the one whose look at 180 s fell in the last interval is listed
    assert wanted == [(job_id, 1)]
    assert sorted(deps.tasks.webhooks_overdue(now)) == [(job_id, 0), (job_id, 1)]


def test_a_task_end_whose_timeline_entry_cannot_be_written_still_ends_it_once(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    # GIVEN a running task and a timeline that refuses writes (throttled)
    job_id, job, task = running_job(deps, "u7")

    def throttled(event: TimelineEvent) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")

    monkeypatch.setattr(deps.tasks._timeline, "add", throttled)  # type: ignore[attr-defined]
    # WHEN the provider reports it failed
    tasks.apply_status(
        deps, job, task, ProviderStatus(provider_id="p-1", state=TaskState.FAILED, raw_status="failed")
    )
    # THEN it ended FAILED and refunded, so that its waiting token can be answered
    ended = deps.tasks.get(job_id, 0)
    assert ended is not None
    assert ended.status == TaskStatus.FAILED
    assert deps.credits.account("u7").available == 10
