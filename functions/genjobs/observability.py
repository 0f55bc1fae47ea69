"""One Logger, Tracer and Metrics for every function (service name and namespace from the environment)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

if TYPE_CHECKING:
    import numbers
    import traceback


class _Untraced(BaseSegment):
    """The subsegment a disabled Tracer writes its annotations and metadata to: they go nowhere."""

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None:
        pass


@asynccontextmanager
async def _untraced_async() -> AsyncGenerator[BaseSegment, None]:
    yield _Untraced()


class _NoTracing(BaseProvider):
    """The provider of a disabled Tracer. Powertools builds the X-Ray recorder for every Tracer,
    disabled or not, and importing it (aws_xray_sdk.core) is the largest part of a handler's import;
    where no trace is sent (POWERTOOLS_TRACE_DISABLED, outside Lambda) this stands in for it."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _Untraced()

    def in_subsegment_async(
        self, name: str | None = None, **kwargs: Any
    ) -> AbstractAsyncContextManager[BaseSegment]:
        return _untraced_async()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


def _tracer() -> Tracer:
    # Powertools' own rule decides whether tracing is off (POWERTOOLS_TRACE_DISABLED, or not running
    # on Lambda, or under SAM local); on AWS with tracing on, the Tracer is built exactly as before.
    if Tracer._is_tracer_disabled():
        return Tracer(disabled=True, provider=_NoTracing())
    return Tracer()


logger = Logger()
tracer = _tracer()
metrics = Metrics()


# What a line is about; each handler starts clean (inject_lambda_context(clear_state=True)).
_SUBJECT_KEYS = ("jobId", "taskIndex", "provider")


def bind(**keys: object) -> None:
    """Puts `keys` (jobId, taskIndex, provider) on every later line of this invocation, replacing
    those of the batch's previous record."""
    logger.remove_keys(_SUBJECT_KEYS)
    logger.append_keys(**keys)
