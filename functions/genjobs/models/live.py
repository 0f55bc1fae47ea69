"""The live channel: what an app receives over its WebSocket, and what the table keeps of it.

A change is numbered per job (`seq`, from 1, strictly increasing, no gaps) in the order the jobs
table's stream delivered it; the same numbered change is what `GET /jobs/{id}/events?after=<seq>`
lists, so an app that reconnects asks for what came after the last number it saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from genjobs.models.domain import TaskCounts

ChangeKind = Literal["job.changed", "task.changed"]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class JobChange(BaseModel):
    """What a change shows of a job: the fields an app's progress bar or list row draws."""

    model_config = ConfigDict(populate_by_name=True)

    status: str
    percent: float
    counts: TaskCounts


class TaskChange(BaseModel):
    """What a change shows of one task."""

    model_config = ConfigDict(populate_by_name=True)

    status: str
    percent: float | None = None
    outputs: list[str] = Field(default_factory=list, description="Output keys (GET the task for URLs)")
    error: str | None = None


class LiveChange(_Model):
    """One numbered change of a job, as sent on the channel and listed by events?after=."""

    job_id: str = Field(alias="jobId")
    seq: int = Field(ge=1)
    at: datetime
    kind: ChangeKind
    task_index: int | None = Field(default=None, alias="taskIndex")
    step: str | None = None
    detail: dict[str, Any]

    def frame(self) -> dict[str, Any]:
        """The JSON frame the channel sends."""
        return {"type": "change"} | self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Connection(_Model):
    """An open WebSocket of a user, for all their jobs or one (`job_id`), until its token expires."""

    connection_id: str = Field(alias="connectionId")
    user_id: str = Field(alias="userId")
    token_expires_at: int = Field(alias="tokenExpiresAt", description="Epoch seconds (the token's exp)")
    job_id: str | None = Field(default=None, alias="jobId")


class SubscribeMessage(_Model):
    """The `subscribe` route's frame: one job, or every job of the user when `jobId` is absent."""

    action: Literal["subscribe"]
    job_id: str | None = Field(default=None, alias="jobId", max_length=64)
