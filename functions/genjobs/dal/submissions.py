"""SQS: the SubmitQueue in front of the providers. The state machine sends it the tasks to submit
(with their task tokens); the API sends it the provider cancels of a cancelled job's in-flight tasks,
so that they go out at once and are retried on throttling like submissions. Every message is in its
job's user's message group (submit_group), as the state machine's are: the queue is a fair queue."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from genjobs.dal import aws
from genjobs.models.messages import CancelJob, DispatchNudge, SubmitTask, submit_group
from genjobs.models.persistence import QueueUnavailable
from genjobs.observability import logger


class SubmitQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def cancel_in_flight(self, job_id: str, user_id: str) -> None:
        try:
            self._send(CancelJob(cancelJob=job_id).model_dump_json(by_alias=True), user_id)
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailable(str(error)) from error

    def send_task(self, message: SubmitTask, user_id: str | None) -> None:
        """A task to submit with the token its child waits on (the next link of an item's chain, or
        a held task handed back); None: its job is gone, and the message is a tenant of its own."""
        self._send(message.model_dump_json(by_alias=True), user_id)

    def _send(self, body: str, user_id: str | None) -> None:
        group: dict[str, Any] = {} if user_id is None else {"MessageGroupId": submit_group(user_id)}
        aws.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body, **group)

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        """The message comes back after `delay_seconds` (its visibility timeout), not at once."""
        aws.client("sqs").change_message_visibility(
            # Only SubmitQueue's consumer retries its messages: the URL is configured, no GetQueueUrl.
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=delay_seconds,
        )


class DispatchQueue:
    """The dispatcher's queue: a nudge asks it for a pass now (or after a pool's block or rate
    window ends). A lost nudge costs a wait until the dispatcher's scheduled pass, never a task."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def nudge(self, pool: str | None = None, job_id: str | None = None, delay_seconds: int = 0) -> None:
        message = DispatchNudge(pool=pool, jobId=job_id)
        try:
            aws.client("sqs").send_message(
                QueueUrl=self.queue_url,
                MessageBody=message.model_dump_json(by_alias=True, exclude_none=True),
                DelaySeconds=max(0, min(900, delay_seconds)),  # SQS's longest delay
            )
        except (BotoCoreError, ClientError):
            logger.warning("dispatch nudge not sent: the scheduled pass will do", exc_info=True)
