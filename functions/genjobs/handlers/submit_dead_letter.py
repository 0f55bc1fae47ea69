"""SubmitDLQ consumer: a poison submission's task fails, its credits are released and its child ends.
A provider cancel that kept failing is left to the sweeper. It only ends tasks and answers their
tokens (logic.task_end, logic.task_answer), so it loads no provider or output code."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.batches import each_record
from genjobs.deps import deps
from genjobs.logic import task_answer
from genjobs.models.messages import CancelJob
from genjobs.models.records import SubmitQueueRecord
from genjobs.observability import bind, logger, tracer


def dead_letter_record(record: SubmitQueueRecord) -> None:
    message = record.body
    if isinstance(message, CancelJob):
        # Nothing waits on it: the sweeper's passes keep sending the job's provider cancels.
        logger.warning("provider cancels left to the sweeper", extra={"jobId": message.cancel_job})
        return
    bind(jobId=message.job_id, taskIndex=message.task_index)
    task_answer.give_up_submission(
        deps(),
        message,
        message.task_token,
        "the submission kept failing and was moved to the dead-letter queue",
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return each_record(event, context, SubmitQueueRecord, dead_letter_record)
