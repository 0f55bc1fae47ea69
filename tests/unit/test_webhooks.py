"""Provider webhooks: verified, matched to their task, applied once, then the waiting task answered."""

from __future__ import annotations

import pytest

from genjobs.logic import tasks, webhooks
from genjobs.logic.errors import NotFound
from genjobs.models.domain import TaskStatus
from genjobs.models.messages import ReceivedWebhook
from genjobs.models.webhook import WebhookQuery
from genjobs.providers.base import (
    MalformedDelivery,
    ProviderStatus,
    TaskState,
    WebhookDelivery,
    WebhookRejected,
)
from tests.unit.fakes import FakeDeps, FakeProvider, data_uri
from tests.unit.scenario import ENDED, granted, submitted, task_of


@pytest.fixture
def job_id(deps: FakeDeps, provider: FakeProvider) -> str:
    granted(deps)
    return submitted(deps, 1, model="sim-image-webhook")


def deliver(
    provider: FakeProvider, provider_id: str, state: TaskState, delivery_id: str = "d-1", **status: object
) -> None:
    provider.delivery = WebhookDelivery(
        delivery_id=delivery_id,
        provider_id=provider_id,
        status=ProviderStatus(provider_id=provider_id, state=state, raw_status=state.value.lower(), **status),
    )


def webhook(provider: str, job_id: str, index: int = 0, body: bytes = b"{}") -> ReceivedWebhook:
    return ReceivedWebhook(
        provider=provider, query=WebhookQuery(job=job_id, task=index), headers={}, body=body
    )


def receive(deps: FakeDeps, job_id: str, index: int = 0) -> str:
    return webhooks.receive(deps, webhook("simulator", job_id, index))


def test_a_webhook_of_a_finished_task_completes_it_and_answers_its_token(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    deliver(provider, task_of(deps, job_id).provider_id or "", TaskState.SUCCEEDED, outputs=[data_uri()])
    assert receive(deps, job_id) == "applied"
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED
    assert deps.workflow.answers["tok-0"] == [ENDED]
    assert "task.webhook_received" in deps.world.kinds(job_id)


def test_a_replayed_delivery_is_a_duplicate_and_changes_nothing(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    deliver(provider, task_of(deps, job_id).provider_id or "", TaskState.SUCCEEDED, outputs=[data_uri()])
    receive(deps, job_id)
    assert receive(deps, job_id) == "duplicate"
    assert deps.credits.account("alice").charged == 1
    assert len(deps.workflow.answers["tok-0"]) == 1


def test_a_progress_webhook_leaves_the_token_waiting(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    deliver(provider, task_of(deps, job_id).provider_id or "", TaskState.RUNNING, progress=40.0)
    assert receive(deps, job_id) == "applied"
    assert task_of(deps, job_id).progress == 40.0
    assert deps.workflow.answers == {}


def test_a_delivery_about_another_prediction_is_not_found(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    deliver(provider, "someone-elses", TaskState.SUCCEEDED)
    with pytest.raises(NotFound):
        receive(deps, job_id)
    assert task_of(deps, job_id).status == TaskStatus.PROCESSING


@pytest.mark.parametrize("refusal", [WebhookRejected("bad signature"), MalformedDelivery("no id")])
def test_an_unverified_delivery_is_refused_before_anything_is_read(
    deps: FakeDeps, provider: FakeProvider, job_id: str, refusal: WebhookRejected
) -> None:
    from genjobs.logic.errors import DomainError

    provider.delivery = refusal
    with pytest.raises(DomainError) as refused:
        receive(deps, job_id)
    assert refused.value.status in {400, 401}
    assert task_of(deps, job_id).status == TaskStatus.PROCESSING


def test_a_delivery_that_could_not_be_applied_is_forgotten_so_its_retry_applies(
    deps: FakeDeps, provider: FakeProvider, job_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an output download that fails with something other than a provider error
    deliver(provider, task_of(deps, job_id).provider_id or "", TaskState.SUCCEEDED, outputs=[data_uri()])

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("S3 down")

    with monkeypatch.context() as patched:
        patched.setattr(tasks, "keep_outputs", crash)
        with pytest.raises(RuntimeError):
            receive(deps, job_id)
    # WHEN the provider retries it
    # THEN it is applied, not dropped as a duplicate
    assert receive(deps, job_id) == "applied"
    assert task_of(deps, job_id).status == TaskStatus.COMPLETED


def test_a_webhook_for_an_unknown_provider_or_job_is_not_found(
    deps: FakeDeps, provider: FakeProvider
) -> None:
    with pytest.raises(NotFound):
        webhooks.receive(deps, webhook("nobody", "job", body=b""))
    deliver(provider, "p", TaskState.RUNNING)
    with pytest.raises(NotFound):
        webhooks.receive(deps, webhook("simulator", "not-a-job-id", body=b""))


def test_a_start_delivery_that_changes_nothing_writes_nothing(
    deps: FakeDeps, provider: FakeProvider, job_id: str
) -> None:
    # GIVEN a submitted webhook task and its timeline
    before, kinds = task_of(deps, job_id), deps.world.kinds(job_id)
    # WHEN the provider's "start" delivery arrives (still running, no progress), then again
    deliver(provider, before.provider_id or "", TaskState.RUNNING)
    assert receive(deps, job_id) == "applied"
    assert receive(deps, job_id) == "applied"
    # THEN neither the task nor the timeline changed
    assert task_of(deps, job_id) == before
    assert deps.world.kinds(job_id) == kinds
    assert deps.workflow.answers == {}
