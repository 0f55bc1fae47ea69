"""What a provider webhook's URL carries (see logic.tasks.webhook_url)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints


def _decimal_digits(value: Any) -> Any:
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a task index written in decimal digits")
    return value


class WebhookQuery(BaseModel):
    """The query a webhook URL carries; anything else is refused."""

    model_config = ConfigDict(extra="ignore")

    job: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # The task index exactly as webhook_url writes it (decimal digits, no sign, space or "_"), and
    # bounded so that no value reaches DynamoDB's key or number limits.
    task: Annotated[int, BeforeValidator(_decimal_digits), Field(ge=0, lt=2**31)]
