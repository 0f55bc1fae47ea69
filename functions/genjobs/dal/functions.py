"""Lambda: the app's own functions that pipeline steps invoke, synchronously (RequestResponse).

Which functions may be invoked is the template's AppFunctionArns (IAM grants exactly those); the
answer's shape is genjobs.models.messages.AppFunctionResult, the contract apps implement.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from pydantic import ValidationError

from genjobs.models.messages import AppFunctionResult
from genjobs.models.persistence import AppFunctionFailed, AppFunctionThrottled, AppFunctionTimedOut

# 30 s short of the runner's own timeout (300 s, template.yaml): past it the runner could no longer
# record the step's failure. An app function answers within this or its step fails as timed out.
INVOKE_READ_TIMEOUT_SECONDS = 270

# Lambda would not run the function now; the same call succeeds later (Invoke's errors, API reference).
_RETRY_LATER = frozenset(
    {
        "TooManyRequestsException",
        "EC2ThrottledException",
        "ResourceConflictException",
        "ResourceNotReadyException",
        "ServiceException",
        "SnapStartNotReadyException",
    }
)


@cache
def _client() -> Any:
    import boto3
    from botocore.config import Config

    # Not genjobs.dal.aws's client: an invocation may run minutes (its read timeout is 10 s), and
    # botocore must not invoke again by itself (a retried Invoke runs the function twice): the
    # runner's queue retries what is throttled.
    config = Config(
        connect_timeout=3, read_timeout=INVOKE_READ_TIMEOUT_SECONDS, retries={"total_max_attempts": 1}
    )
    return boto3.client("lambda", config=config)


class LambdaAppFunctions:
    def invoke(self, arn: str, payload: dict[str, Any]) -> AppFunctionResult:
        try:
            response = _client().invoke(
                FunctionName=arn, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
            )
            body = response["Payload"].read()
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = str(details.get("Code", "")), str(details.get("Message", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in _RETRY_LATER or status >= 500:
                raise AppFunctionThrottled(f"{code}: {message}") from error
            raise AppFunctionFailed(code, message) from error
        except ReadTimeoutError as error:
            raise AppFunctionTimedOut(
                "Timeout", f"no answer within {INVOKE_READ_TIMEOUT_SECONDS} s"
            ) from error
        except BotoCoreError as error:  # Lambda not reached (connection refused, timed out): later
            raise AppFunctionThrottled(str(error)) from error
        if response.get("FunctionError"):
            raise _function_error(body, str(response["FunctionError"]))
        try:
            return AppFunctionResult.model_validate_json(body)
        except ValidationError as error:
            raise AppFunctionFailed(
                "InvalidAnswer", f"the answer is not an AppFunctionResult: {error.errors()[0]['msg']}"
            ) from error


def _function_error(body: bytes, kind: str) -> AppFunctionFailed:
    """Lambda's error payload ({"errorType", "errorMessage", ...}) as the exception it stands for."""
    try:
        error = json.loads(body)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        return AppFunctionFailed(kind, body.decode(errors="replace")[:1000])
    error_type, message = str(error.get("errorType", kind)), str(error.get("errorMessage", ""))
    # Lambda ends a function at its timeout with this type (older runtimes: only the message).
    if error_type == "Sandbox.Timedout" or message.startswith("Task timed out after"):
        return AppFunctionTimedOut(error_type, message)
    return AppFunctionFailed(error_type, message)
