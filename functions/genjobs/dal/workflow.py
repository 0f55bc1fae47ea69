"""Step Functions: starting a job's execution and answering waiting task tokens."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from genjobs.dal import aws
from genjobs.models.messages import PrepareJobInput, TaskEnded


class Workflow:
    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn

    @property
    def _sfn(self) -> Any:
        return aws.client("stepfunctions")

    def start(self, job_id: str, run: int = 0) -> bool:
        """Starts the job's execution, named after the job (and its retry: `run`) so that a second
        start of the same run is a no-op."""
        try:
            self._sfn.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=f"{job_id}-r{run}" if run else job_id,
                input=PrepareJobInput(jobId=job_id).model_dump_json(by_alias=True),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def succeed(self, token: str, answer: TaskEnded) -> bool:
        """False when the token is no longer waiting (answered before, timed out, execution ended)."""
        return self._answer(
            self._sfn.send_task_success, taskToken=token, output=answer.model_dump_json(by_alias=True)
        )

    def heartbeat(self, token: str) -> bool:
        return self._answer(self._sfn.send_task_heartbeat, taskToken=token)

    def fail(self, token: str, error: str, cause: str) -> bool:
        return self._answer(
            self._sfn.send_task_failure, taskToken=token, error=error[:256], cause=cause[:32768]
        )

    @staticmethod
    def _answer(call: Any, **kwargs: Any) -> bool:
        try:
            call(**kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _TOKEN_GONE:
                return False
            raise
        return True


# A token that no longer waits: answered before, timed out, or its execution ended.
_TOKEN_GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
