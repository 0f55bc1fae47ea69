"""Creating (or retrying) a job once per Idempotency-Key: a repeat with the same key and body
answers the same job and reserves nothing more (powertools' idempotency, its records in the
idempotency table)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel

from genjobs.logic import jobs, retries
from genjobs.logic.errors import Conflict, InvalidRequest
from genjobs.models.api import CreateJobRequest, JobDetailView, RetryJobRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from genjobs.logic.ports import Collaborators

# How long a key answers with its job.
KEY_LIFETIME_SECONDS = 24 * 3600


class IdempotencyKeyReused(InvalidRequest):
    """Powertools' IdempotencyValidationError, answered as a problem like every domain error."""

    title = "Idempotency-Key reused"


class RequestInProgress(Conflict):
    """Powertools' IdempotencyAlreadyInProgressError."""

    title = "Request in progress"


class Keyed(BaseModel):
    """A request as the idempotency store sees it: the record is the caller's key, the payload whose
    hash the record keeps is the request."""

    user: str
    key: str


class KeyedCreation(Keyed):
    request: CreateJobRequest


def create_job(
    deps: Collaborators,
    user_id: str,
    request: CreateJobRequest,
    idempotency_key: str | None,
    lambda_context: LambdaContext | None = None,
) -> JobDetailView:
    """Creates the job; with a key, only the first time the key comes (see jobs.create_job).

    `lambda_context` bounds how long an interrupted create keeps its key in progress."""
    if idempotency_key is None:
        return jobs.create_job(deps, user_id, request, None)
    keyed = KeyedCreation(user=user_id, key=idempotency_key, request=request)
    return once(deps, "create-job", _create, keyed, lambda_context)


def _create(deps: Collaborators, *, keyed: KeyedCreation) -> JobDetailView:
    return jobs.create_job(deps, keyed.user, keyed.request, keyed.key)


class KeyedRetry(Keyed):
    job_id: str
    request: RetryJobRequest


def retry_job(
    deps: Collaborators,
    user_id: str,
    job_id: str,
    request: RetryJobRequest,
    idempotency_key: str | None,
    lambda_context: LambdaContext | None = None,
) -> JobDetailView:
    """Retries the caller's ended job (logic.retries); with a key, only the first time the key
    comes for this job."""
    if idempotency_key is None:
        return _retry(deps, user_id, job_id, request)
    # The job is part of the key: the same key sent for another job is another retry.
    keyed = KeyedRetry(user=user_id, key=f"{job_id}:{idempotency_key}", job_id=job_id, request=request)
    return once(deps, "retry-job", _keyed_retry, keyed, lambda_context)


def _keyed_retry(deps: Collaborators, *, keyed: KeyedRetry) -> JobDetailView:
    return _retry(deps, keyed.user, keyed.job_id, keyed.request)


def _retry(deps: Collaborators, user_id: str, job_id: str, request: RetryJobRequest) -> JobDetailView:
    retries.retry(deps, jobs._owned_job(deps, user_id, job_id), request)
    return jobs.get_job(deps, user_id, job_id)


def once(
    deps: Collaborators,
    use_case: str,
    run: Callable[..., JobDetailView],
    keyed: Keyed,
    lambda_context: LambdaContext | None,
) -> JobDetailView:
    """`run(deps, keyed=keyed)` the first time its key comes for `use_case`; the same answer after."""
    call, config = _idempotent(deps.settings.idempotency_table_name, use_case, run)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    try:
        return call(deps, keyed=keyed)
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used before with a different request body",
            errors=[{"field": "Idempotency-Key", "reason": "already used with a different body"}],
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise RequestInProgress("a request with this Idempotency-Key is still being processed") from error


@cache
def _idempotent(
    table_name: str, use_case: str, run: Callable[..., JobDetailView]
) -> tuple[Callable[..., JobDetailView], IdempotencyConfig]:
    # Powertools' idempotency (and boto3 with it) is imported by the first request with a key.
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

    config = IdempotencyConfig(
        event_key_jmespath="[user, key]",
        payload_validation_jmespath="request",
        expires_after_seconds=KEY_LIFETIME_SECONDS,
    )
    keyed: Callable[..., JobDetailView] = idempotent_function(
        run,
        data_keyword_argument="keyed",
        persistence_store=DynamoDBPersistenceLayer(table_name=table_name),
        config=config,
        output_serializer=PydanticSerializer(model=JobDetailView),
        # The records' keys name the use case, not where its code lives, so they outlive a refactor.
        key_prefix=use_case,
    )
    return keyed, config
