"""Scheduled safety net (see logic.sweeper)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.deps import deps
from genjobs.logic.pause_expiry import expire_pauses
from genjobs.logic.sweeper import sweep
from genjobs.models.messages import SweeperSchedule
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=SweeperSchedule)
def handler(event: SweeperSchedule, context: LambdaContext) -> dict[str, int]:
    bind()  # a sweep is about many jobs: their ids go on the lines that concern them
    # How late the pass started after the time it was meant for, in schedule seconds: its looks
    # are its minute's however late, but a pass later than a minute overlaps the next one.
    late = None if event.scheduled_time is None else deps().clock.seconds_since(event.scheduled_time)
    result = sweep(deps(), event.scheduled_time) | {"pausesExpired": expire_pauses(deps())}
    logger.info("sweep done", extra=result | {"lateSeconds": None if late is None else round(late, 1)})
    return result
