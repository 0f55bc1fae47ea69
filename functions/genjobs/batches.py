"""The queue consumers' batches (SubmitQueue, its DLQ, RunQueue, NotifyQueue): each record parsed
into its model and handled alone, a failing one reported as a batch item failure (the queue brings
it back, or to its DLQ)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext


def each_record(
    event: dict[str, Any],
    context: LambdaContext,
    model: type[SqsRecordModel],
    record_handler: Callable[[Any], None],
) -> Any:
    # A processor per invocation: a BatchProcessor keeps the batch's results on itself, so a
    # module-level one mixes up batches handled concurrently in one process (the local runtime runs
    # a poller's batches in threads; a shared one answered a batch with another's failures).
    processor = BatchProcessor(event_type=EventType.SQS, model=model)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
