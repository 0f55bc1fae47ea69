"""The operators' bulk operations at the API: what they ask, what they are answered."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from genjobs.models.api import JobView, _Request, _Response
from genjobs.models.domain import JobFilter


class BulkJobsRequest(_Request):
    """Retry or cancel every job a filter matches (operators), e.g. after a provider's outage."""

    action: Literal["retry", "cancel"]
    filter: JobFilter = Field(default_factory=JobFilter)
    include: list[Literal["failed", "cancelled"]] = Field(
        default=["failed"], min_length=1, max_length=2, description="What a retry runs again."
    )
    dry_run: bool = Field(default=False, alias="dryRun", description="Only count the jobs it would act on.")


class OperationView(_Response):
    operation_id: str | None = Field(default=None, alias="operationId", description="None for a dry run.")
    action: str
    status: str = Field(description="RUNNING, DONE; DRY_RUN for a count.")
    matched: int | None = Field(default=None, description="A dry run's count of the jobs it would act on.")
    done: int = Field(default=0, description="Jobs retried or cancelled so far.")
    skipped: int = Field(
        default=0, description="Matched jobs the action refused (running, nothing to retry...)."
    )
    created_at: datetime | None = Field(default=None, alias="createdAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")


class OwnedJobView(JobView):
    user_id: str = Field(alias="userId", description="The job's owner.")


class OwnedJobListView(_Response):
    items: list[OwnedJobView]
    cursor: str | None = None
