"""A job's model as the catalog lists it, and the first wait it sets for the job's polled tasks.

Catalog reads only: PrepareJob needs these, and what it loads reaches no provider adapter (nor the
provider secret); talking to a provider is genjobs.logic.tasks's.
"""

from __future__ import annotations

from genjobs.catalog import ResolvedModel
from genjobs.logic.ports import Collaborators
from genjobs.models.domain import Job
from genjobs.providers.base import ProviderRejected


def model_of(deps: Collaborators, job: Job) -> ResolvedModel:
    model = deps.catalog.resolve(job.provider, job.model)
    if model is None:
        raise ProviderRejected(f"{job.provider}/{job.model} is no longer in the catalog")
    return model


def first_wait(model: ResolvedModel, deps: Collaborators) -> int:
    """The first status check comes near the model's expected latency, not every few seconds (then
    CheckCancellationAndStatus's Retry backs off); the same for every task of a job (PrepareJob's)."""
    return max(deps.settings.poll_min_interval_seconds, model.expected_seconds)
