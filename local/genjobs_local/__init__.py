"""genjobs local runtime: the whole SAM application in one process, on moto, without Docker or AWS.

with LocalStack.start(time_scale=0.01) as stack:
    requests.get(f"{stack.api_url}/credits", headers={"Authorization": f"Bearer {stack.mint_token('alice')}"})
"""

from genjobs_local.lambda_runtime import FunctionError
from genjobs_local.stack import LocalStack

__all__ = ["FunctionError", "LocalStack"]
