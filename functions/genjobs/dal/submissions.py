"""SQS: the SubmitQueue in front of the providers. The state machine sends it the tasks to submit
(with their task tokens); the API sends it the provider cancels of a cancelled job's in-flight tasks,
so that they go out at once and are retried on throttling like submissions."""

from __future__ import annotations

from genjobs.dal import aws
from genjobs.models.messages import CancelJob


class SubmitQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def cancel_in_flight(self, job_id: str) -> None:
        message = CancelJob(cancelJob=job_id)
        aws.client("sqs").send_message(
            QueueUrl=self.queue_url, MessageBody=message.model_dump_json(by_alias=True)
        )
