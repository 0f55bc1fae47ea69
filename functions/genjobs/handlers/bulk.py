"""BulkQueue consumer: one page of an operator's bulk operation (logic.operations)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.batches import each_record
from genjobs.deps import deps
from genjobs.logic import operations
from genjobs.models.records import BulkQueueRecord
from genjobs.observability import logger, tracer


def page_record(record: BulkQueueRecord) -> None:
    operations.run_page(deps(), record.body)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return each_record(event, context, BulkQueueRecord, page_record)
