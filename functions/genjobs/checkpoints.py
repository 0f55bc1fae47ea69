"""Named boundaries between two side effects of a step, e.g. "the provider accepted the submission"
and "we recorded it". Each is a place where a crashed invocation must leave a state the workflow
recovers from by itself (Step Functions Retry, SQS redelivery, provider webhook retries, the sweeper).

The product only marks them: `deps.checkpoints.reach(name, *scopes)` does nothing by default. A
`Checkpoints` given to `Deps(checkpoints=...)` may act there; the local stack's fault tests crash
the invocation at one to prove that recovery.

Each boundary is named where it is reached (`reach`'s first argument).
"""

from __future__ import annotations

from typing import Protocol


class Checkpoints(Protocol):
    def reach(self, name: str, *scopes: str | None) -> None:
        """Called when a step passes boundary `name`, for `scopes` (the user and job it concerns)."""
        ...


class Unobserved:
    """The product's own checkpoints: nothing happens at them."""

    def reach(self, name: str, *scopes: str | None) -> None:
        pass
