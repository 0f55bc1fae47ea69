"""The jobs table's stream (job and task items): each change numbered, kept, posted to its owner's
open connections (see logic.live)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic import live
from genjobs.models.domain import utcnow
from genjobs.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=DynamoDBStreamModel)
def handler(event: DynamoDBStreamModel, context: LambdaContext) -> None:
    now = utcnow()  # the wall clock: a token's expiry is real time, whatever the functions' clock
    stream_item = deps().live.stream_item
    changes = [
        live.ItemChange(
            sequence_number=r.dynamodb.SequenceNumber,
            at=r.dynamodb.ApproximateCreationDateTime or now,
            old=stream_item(_image(r.dynamodb.OldImage)),
            new=stream_item(_image(r.dynamodb.NewImage)),
        )
        for r in event.Records
    ]
    posted = live.deliver(deps(), changes, now)
    metrics.add_metric(name="LiveFramesPosted", unit="Count", value=posted)


def _image(image: Any) -> dict[str, Any] | None:
    return image if isinstance(image, dict) else None
