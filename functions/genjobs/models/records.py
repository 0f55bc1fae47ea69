"""The SQS records our queue consumers get, their bodies parsed into messages (BatchProcessor's
`model`): a body that is not one of them fails its record alone, as a batch item failure."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from genjobs.models.messages import BulkPage, DispatchNudge, JobEvent, RunTask, SubmitQueueMessage


class SubmitQueueRecord(SqsRecordModel):
    """A record of SubmitQueue (and of its DLQ, which keeps the body as it was)."""

    body: Json[SubmitQueueMessage]


class RunQueueRecord(SqsRecordModel):
    """A record of RunQueue: a pipeline step for the runner."""

    body: Json[RunTask]


class JobEventRecord(SqsRecordModel):
    """A record of NotifyQueue: the topic delivers raw, so the body is the job event itself."""

    body: Json[JobEvent]


class BulkQueueRecord(SqsRecordModel):
    """A record of BulkQueue: a page of an operator's bulk operation."""

    body: Json[BulkPage]


class DispatchQueueRecord(SqsRecordModel):
    """A record of DispatchQueue: a nudge for the dispatcher."""

    body: Json[DispatchNudge]
