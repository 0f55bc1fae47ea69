"""RFC 9457 problem details: how the API and the webhook answer a refusal (kept apart from the API's
models so that the webhook's cold start does not load them)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"


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

    @classmethod
    def of(cls, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> Problem:
        return cls.model_validate(
            {"title": title, "status": status, "detail": detail, "errors": errors or []}
        )

    @classmethod
    def on_field(cls, status: int, title: str, field: str, reason: str) -> Problem:
        """A refusal of one field, whose reason is also the detail."""
        return cls.of(status, title, reason, [{"field": field, "reason": reason}])

    def body(self) -> str:
        """The JSON body; `errors` only when there are some. json.dumps, not pydantic, writes it: a
        detail may quote what the client sent, lone surrogates included, which pydantic cannot encode."""
        return json.dumps(self.model_dump(exclude={"errors"} if not self.errors else None))

    def proxy_response(self) -> dict[str, Any]:
        """The answer of a Lambda behind API Gateway that has no resolver (the webhook)."""
        return {"statusCode": self.status, "headers": {"Content-Type": PROBLEM_JSON}, "body": self.body()}
