"""DispatchQueue consumer and every-minute schedule: fair dispatch's passes (see logic.dispatch).
A batch of nudges makes one pass over the pools and jobs they name; the schedule's event makes the
backstop pass (every pool, parked tasks, heartbeats, counters)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from genjobs.batches import each_record
from genjobs.deps import deps
from genjobs.logic import dispatch
from genjobs.models.records import DispatchQueueRecord
from genjobs.observability import bind, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    bind()  # a pass is about many jobs
    if "Records" not in event:  # the schedule
        result = dispatch.scheduled(deps())
        logger.info("scheduled dispatch pass", extra=result)
        return result
    pools: set[str] = set()
    jobs: set[str] = set()

    def collect(record: DispatchQueueRecord) -> None:
        if record.body.pool:
            pools.add(record.body.pool)
        if record.body.job_id:
            jobs.add(record.body.job_id)

    answer = each_record(event, context, DispatchQueueRecord, collect)
    # A pass that fails raises: the batch comes back, and the schedule's pass is the backstop.
    logger.info("dispatch pass", extra=dispatch.on_nudges(deps(), pools, jobs))
    return answer
