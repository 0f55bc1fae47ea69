"""Preparing a job: its task items and manifest written once, and what the rest of the workflow
runs on: whether the job was cancelled before its tasks ran, and when a polled task is first checked."""

from __future__ import annotations

import pytest

from genjobs.logic import jobs
from genjobs.logic.preparation import prepare
from genjobs.models.domain import TaskStatus
from genjobs.providers.base import ProviderRejected
from tests.unit.fakes import FakeDeps, fake_deps
from tests.unit.scenario import USER, created, granted, statuses


def test_a_prepared_job_writes_its_tasks_and_the_manifest_of_its_map(deps: FakeDeps) -> None:
    # GIVEN a created 3-task job
    granted(deps)
    job_id = created(deps, 3)
    # WHEN PrepareJob runs
    output = prepare(deps, job_id)
    # THEN its tasks wait PENDING, the Map's manifest names each (with its first check's wait: its
    # model's expected latency) in one batch run all at once, and its tasks are to be run in one round
    assert statuses(deps, job_id) == [TaskStatus.PENDING] * 3
    assert deps.storage.get_json(output.manifest_key) == [
        {"jobId": job_id, "width": 3, "tasks": [{"taskIndex": i, "firstCheckSeconds": 20} for i in range(3)]}
    ]
    assert (output.task_count, output.cancel_requested, output.more_rounds) == (3, False, False)


@pytest.mark.parametrize(("model", "first_check"), [("sim-image", 20), ("sim-3d", 300)])
def test_a_polled_task_is_first_checked_after_its_models_expected_latency(
    deps: FakeDeps, model: str, first_check: int
) -> None:
    granted(deps)
    assert prepare(deps, created(deps, 1, model=model)).first_check_seconds == first_check


def test_the_first_check_never_comes_sooner_than_the_polling_floor() -> None:
    deps = fake_deps(POLL_MIN_INTERVAL_SECONDS=45)
    granted(deps)
    assert prepare(deps, created(deps, 1, model="sim-image")).first_check_seconds == 45


def test_a_job_cancelled_before_its_tasks_ran_goes_straight_to_its_settlement(deps: FakeDeps) -> None:
    # GIVEN a job cancelled before its workflow prepared it
    granted(deps)
    job_id = created(deps, 2)
    jobs.cancel_job(deps, USER, job_id)
    # WHEN PrepareJob runs
    output = prepare(deps, job_id)
    # THEN it says so, and its round runs nothing: the job settles without submitting a task
    assert output.cancel_requested is True
    assert deps.storage.get_json(output.manifest_key) == []
    assert output.more_rounds is False


def test_a_replayed_preparation_writes_nothing_again_and_answers_the_same(deps: FakeDeps) -> None:
    granted(deps)
    job_id = created(deps, 2)
    first = prepare(deps, job_id)
    deps.world.tasks[(job_id, 0)] = deps.world.tasks[(job_id, 0)].model_copy(
        update={"status": TaskStatus.PROCESSING}
    )
    assert prepare(deps, job_id) == first
    assert statuses(deps, job_id) == [TaskStatus.PROCESSING, TaskStatus.PENDING]
    assert deps.world.kinds(job_id).count("job.started") == 1


def test_a_job_whose_model_left_the_catalog_fails_its_preparation_as_rejected(deps: FakeDeps) -> None:
    # GIVEN a created job whose model was taken out of the catalog before its workflow ran
    granted(deps)
    job_id = created(deps, 2)
    deps.world.jobs[job_id] = deps.world.jobs[job_id].model_copy(update={"model": "retired"})
    # WHEN PrepareJob runs, THEN it fails as a provider refusing the model would
    with pytest.raises(ProviderRejected, match="no longer in the catalog"):
        prepare(deps, job_id)
