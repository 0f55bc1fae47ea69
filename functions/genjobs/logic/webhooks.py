"""Provider webhooks: verified, then applied like a poll (once: see `receive`); the waiting task is answered."""

from __future__ import annotations

from genjobs.logic.chains import answer_after
from genjobs.logic.errors import DomainError, NotFound
from genjobs.logic.ports import Collaborators
from genjobs.logic.providers import provider_for
from genjobs.logic.task_answer import DONE
from genjobs.logic.task_end import TaskGone, load
from genjobs.logic.tasks import apply_status, observation_failed
from genjobs.models.domain import TimelineEvent, is_job_id, utcnow
from genjobs.models.messages import ReceivedWebhook, TaskRef
from genjobs.providers.base import MalformedDelivery, ProviderError, ProviderNotConfigured, WebhookRejected


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"


class MalformedWebhook(DomainError):
    status = 400
    title = "Malformed delivery"


def receive(deps: Collaborators, webhook: ReceivedWebhook) -> str:
    """Every refusal is a DomainError (a 4xx: providers retry a 5xx for hours); only a fault of
    ours (AWS, an output download) raises anything else, so that the provider's retry applies it."""
    provider, job_id, task_index = webhook.provider, webhook.query.job, webhook.query.task
    if provider not in deps.catalog.providers:
        raise NotFound(f"no provider '{provider}'")
    try:
        adapter = provider_for(deps, provider)
    except ProviderNotConfigured as error:
        raise Unauthorized(f"webhook rejected: {provider} has no credentials configured") from error
    try:
        delivery = adapter.verify_webhook(webhook.headers, webhook.body)
    except MalformedDelivery as error:
        problem = {"field": "body", "reason": error.reason}
        raise MalformedWebhook(f"webhook rejected: {error.reason}", errors=[problem]) from error
    except WebhookRejected as error:
        raise Unauthorized(f"webhook rejected: {error.reason}") from error
    if not is_job_id(job_id):
        raise NotFound(f"no job '{job_id}'")
    try:
        job, task = load(deps, TaskRef(jobId=job_id, taskIndex=task_index))
    except TaskGone as error:
        raise NotFound(str(error)) from error
    # A delivery that comes before its submission is recorded (a fast provider, a submitter that
    # crashed after the provider accepted) is refused, so that the provider's retry of it applies.
    if job.provider != provider or not task.provider_id or not delivery.matches(task.provider_id):
        raise NotFound("the delivery is not about this task")
    # De-duplicated by the task item, with no record per delivery: the move that ends a task is
    # conditional on its status and keeps the delivery that ended it, a delivery about an ended task
    # changes nothing, and one that finds it still running writes only a progress it raises (a
    # "start" delivery writes nothing).
    if task.status.terminal:
        return "duplicate" if task.ended_by == delivery.delivery_id else "applied"
    if delivery.status.state.is_terminal:
        deps.timeline.add(
            TimelineEvent(
                jobId=job_id,
                at=utcnow(),
                kind="task.webhook_received",
                taskIndex=task_index,
                detail={"deliveryId": delivery.delivery_id, "providerStatus": delivery.status.raw_status},
            )
        )
    token = task.task_token
    try:
        result = apply_status(deps, job, task, delivery.status, delivery_id=delivery.delivery_id)
    except ProviderError as error:
        # Counted like a failed poll: the task ends once the failures reach their bound. Until then
        # the delivery is refused, so that the provider's retry of it is applied.
        result = observation_failed(deps, job, task, error)
        if result is not DONE:
            raise
    if result is DONE and token:
        answer_after(deps, token, DONE, job, task.index)
    return "applied"
