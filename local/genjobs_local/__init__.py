"""genjobs local runtime: the whole SAM application in one process, on moto, without Docker or AWS.

with LocalStack.start(time_scale=0.01) as stack:
    token = stack.mint_token("alice")
    requests.get(f"{stack.api_url}/credits", headers={"Authorization": f"Bearer {token}"})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genjobs_local.lambda_runtime import FunctionError
    from genjobs_local.stack import LocalStack

__all__ = ["FunctionError", "LocalStack"]


def __getattr__(name: str) -> Any:
    # Lazy: `genjobs-local token` must not pay for importing moto.
    if name == "LocalStack":
        from genjobs_local.stack import LocalStack

        return LocalStack
    if name == "FunctionError":
        from genjobs_local.lambda_runtime import FunctionError

        return FunctionError
    raise AttributeError(name)
