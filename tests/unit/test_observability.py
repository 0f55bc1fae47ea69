"""With tracing off, the shared Tracer's decorators still pass every answer and error through; log
lines carry the keys of the record being handled."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from genjobs.observability import bind, logger, tracer


def test_with_tracing_off_the_tracer_sends_nothing_and_needs_no_x_ray() -> None:
    # GIVEN the tests' environment (POWERTOOLS_TRACE_DISABLED, as locally)
    # THEN the Tracer is disabled and does not record through the X-Ray SDK
    assert tracer.disabled is True
    assert not type(tracer.provider).__module__.startswith("aws_xray_sdk")


def test_a_traced_handler_answers_and_fails_as_without_the_tracer() -> None:
    # GIVEN a handler and a method decorated like the functions'
    @tracer.capture_method
    def double(value: int) -> int:
        return value * 2

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        if event.get("fail"):
            raise ValueError("refused")
        return {"doubled": double(event["value"])}

    # WHEN it is called, THEN its answer and its error come through unchanged
    assert handler({"value": 21}, None) == {"doubled": 42}
    with pytest.raises(ValueError, match="refused"):
        handler({"fail": True}, None)


def test_a_traced_coroutine_answers_as_without_the_tracer() -> None:
    @tracer.capture_method
    async def later(value: int) -> int:
        await asyncio.sleep(0)
        return value + 1

    assert asyncio.run(later(1)) == 2


def _context(request_id: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name="genjobs-test-submitter",
        function_version="$LATEST",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:genjobs-test-submitter",
        memory_limit_in_mb="256",
        aws_request_id=request_id,
    )


def test_each_record_and_each_invocation_is_labelled_with_its_own_job_only() -> None:
    # GIVEN a handler shaped like the batch consumers: a clean start per invocation, each record bound
    seen: list[dict[str, Any]] = []

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: object) -> None:
        for record in event["records"]:
            bind(**record)
            seen.append(dict(logger.get_current_keys()))

    try:
        # WHEN one invocation handles a task record then a job-wide one, and the next binds nothing
        handler({"records": [{"jobId": "job-a", "taskIndex": 3}, {"jobId": "job-b"}]}, _context("r1"))
        handler({"records": [{}]}, _context("r2"))
    finally:
        logger.clear_state()

    # THEN each record's lines name its own job (and task), never the previous record's or invocation's
    assert (seen[0]["jobId"], seen[0]["taskIndex"]) == ("job-a", 3)
    assert seen[1]["jobId"] == "job-b"
    assert "taskIndex" not in seen[1]
    assert "jobId" not in seen[2]
    assert seen[2]["function_request_id"] == "r2"


def test_a_poll_that_finds_the_task_still_running_fails_with_a_one_frame_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import traceback

    from genjobs.handlers import poll_task
    from genjobs.logic import tasks

    # GIVEN a task its provider is still running
    def still_running(deps: object, ref: object) -> None:
        raise tasks.TaskNotReady("job j task 0 is still running")

    monkeypatch.setattr(poll_task, "deps", lambda: None)
    monkeypatch.setattr(tasks, "poll", still_running)
    # WHEN its status check runs
    with pytest.raises(tasks.TaskNotReady, match="still running") as raised:
        poll_task.handler({"jobId": "j", "taskIndex": 0}, _context("r-1"))
    # THEN the error Step Functions retries on carries only the handler's own frame, not the stack
    # of decorators and domain calls the runtime would log with it on every poll
    frames = traceback.extract_tb(raised.value.__traceback__)
    assert [frame.name for frame in frames[1:]] == ["handler"]  # (frames[0] is this test, the caller)
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None
