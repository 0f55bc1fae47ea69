"""With tracing off, the shared Tracer's decorators still pass every answer and error through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from genjobs.observability import tracer


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
