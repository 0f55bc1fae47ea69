"""RFC 9457 problem details: how the API and the webhook answer a refusal (kept apart from the API's
models so that the webhook's cold start does not load them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Response(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class FieldProblem(_Response):
    field: str = Field(description="The request field, e.g. `matrix.style` or `Idempotency-Key`.")
    reason: str


class Problem(_Response):
    """RFC 9457 problem details, served as application/problem+json."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = Field(default_factory=list, description="One entry per offending field.")
