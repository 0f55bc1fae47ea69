"""Each function's execution environment, in the one process that runs them all.

On Lambda a function's process is its own: its environment variables, its collaborators
(genjobs.deps.Deps, built from them at cold start) and its logger's keys belong to it alone. Here
every function runs in threads of one process, so:
  - os.environ holds only what every function shares (the template's Globals) and what libraries
    read from the process (POWERTOOLS_*, AWS_*), which must then agree for all functions;
  - the product's Deps is chosen per thread, by the invocation running there (`running`): each
    function has its own, built from its own environment on its first invocation, with the stack's
    clock and crash injection;
  - the functions' shared Logger keeps its keys per thread, so concurrent invocations never label
    each other's lines;
  - the API's resolver answers one request at a time: powertools keeps the request being resolved
    (its event, matched route and path arguments) on the resolver and its class, as a Lambda
    process handling one request at a time may;
  - the functions' shared Metrics keeps its metric, dimension and metadata sets per thread: one
    invocation's flush never clears, or serializes, another's (on Lambda a process flushes only
    its own invocation's metrics);
  - a DynamoDB resource builds each request's condition expressions with a builder of its thread:
    boto3 keeps one builder per resource and resets its placeholder counter per request, so two
    invocations sharing a function's Deps could swap each other's `#n0` (a Query refused with
    "missed key schema element" for a key it has).
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from genjobs_local.clock import ScaledClock, time_scale
from genjobs_local.faults import Crashes

# Read by libraries from the process environment, not through the product's settings.
LIBRARY_PREFIXES = ("POWERTOOLS_", "AWS_")

# The function whose invocation runs in this thread (a new thread starts outside any).
_running: ContextVar[str | None] = ContextVar("genjobs_local_function", default=None)


@contextmanager
def running(function: str) -> Iterator[None]:
    """The block is an invocation of `function` (a logical id): the product sees its environment."""
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


def running_function() -> str | None:
    """The function (logical id) whose invocation runs in this thread, if any."""
    return _running.get()


def process_environment(variables: dict[str, dict[str, Any]]) -> dict[str, str]:
    """What os.environ holds: the variables every function has with the same value. A variable a
    library reads that functions give different values (or only some give) cannot be kept apart."""
    shared: dict[str, str] = {}
    for name in {name for values in variables.values() for name in values}:
        given = {function: values.get(name) for function, values in variables.items()}
        distinct = {None if value is None else str(value) for value in given.values()}
        if len(distinct) == 1 and None not in distinct:
            shared[name] = str(distinct.pop())
        elif name.startswith(LIBRARY_PREFIXES):
            raise ValueError(
                f"functions give {name} different values {given}: libraries read it from the one "
                "process environment of the local runtime"
            )
    return shared


class FunctionDeps:
    """Stands in for the product's Deps: each attribute is the one of the Deps of the function
    invoked in this thread. Outside an invocation (a test calling the product directly) it is the
    Deps of an operator who has every function's environment."""

    def __init__(self, variables: dict[str, dict[str, Any]]) -> None:
        self._variables = {f: {k: str(v) for k, v in values.items()} for f, values in variables.items()}
        self._everything: dict[str, str] = {}
        for values in self._variables.values():
            self._everything = values | self._everything
        self._built: dict[str | None, Any] = {}
        self._lock = threading.Lock()
        # The stack's time scale when it started: a test that speeds up only the queues or the
        # simulator later (TIME_SCALE) leaves the functions' time as it was.
        self._clock = ScaledClock(time_scale())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current(), name)

    def current(self) -> Any:
        function = _running.get()
        deps = self._built.get(function)
        if deps is not None:  # warm
            return deps
        with self._lock:
            if function not in self._built:
                variables = self._variables.get(function or "", self._everything)
                self._built[function] = _cold_start(variables, self._clock)
            return self._built[function]

    def restart(self) -> None:
        """Every function starts cold again at its next invocation (settings read anew)."""
        with self._lock:
            self._built.clear()


def _cold_start(variables: dict[str, str], clock: ScaledClock) -> Any:
    from genjobs.deps import Deps
    from genjobs.settings import Settings

    settings = Settings.model_validate(dict(os.environ) | variables)
    return Deps(settings=settings, clock=clock, checkpoints=Crashes())


def install(variables: dict[str, dict[str, Any]]) -> FunctionDeps:
    """Gives the product per-function Deps and per-thread logger keys; call once the functions'
    code is importable and os.environ holds the process environment."""
    per_function = FunctionDeps(variables)
    importlib.import_module("genjobs.deps").override(per_function)
    observability = importlib.import_module("genjobs.observability")
    keys_per_thread(observability.logger.registered_formatter)
    metrics_per_thread(observability.metrics.provider)
    one_request_at_a_time()
    condition_builders_per_thread()
    return per_function


_resolving = threading.Lock()


def one_request_at_a_time() -> None:
    """Concurrent API requests in this process are resolved one after the other. Without it, one
    request's route arguments and event could be read while another's is resolved (a cancel of
    one user's job answered 404 for another's id)."""
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    resolve = ApiGatewayResolver.resolve
    if getattr(resolve, "_one_at_a_time", False):
        return  # a stack started earlier in this process did it

    def resolve_alone(self: Any, event: Any, context: Any) -> dict[str, Any]:
        with _resolving:
            return resolve(self, event, context)

    resolve_alone._one_at_a_time = True  # type: ignore[attr-defined]
    ApiGatewayResolver.resolve = resolve_alone  # type: ignore[method-assign]


# What one invocation's metrics are made of, on powertools' CloudWatch EMF provider.
_METRIC_SETS = ("metric_set", "dimension_set", "dimension_sets", "metadata_set")


class _SetPerThread:
    """An attribute of a metrics provider, one value per thread: each thread starts from a copy of
    the value the provider had when its sets were made per thread (the default dimensions)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, provider: Any, owner: type | None = None) -> Any:
        if provider is None:
            return self
        mine = provider.__dict__["_sets_per_thread"].__dict__  # this thread's
        if self.name not in mine:
            mine[self.name] = copy.deepcopy(provider.__dict__["_sets_at_start"][self.name])
        return mine[self.name]

    def __set__(self, provider: Any, value: Any) -> None:
        provider.__dict__["_sets_per_thread"].__dict__[self.name] = value


def metrics_per_thread(provider: Any) -> None:
    """Makes the provider's metric, dimension and metadata sets per thread (see the module's doc)."""
    if "_sets_per_thread" in provider.__dict__:
        return  # a stack started earlier in this process did it (the metrics outlive the modules)
    provider.__dict__["_sets_at_start"] = {name: provider.__dict__.pop(name) for name in _METRIC_SETS}
    provider.__dict__["_sets_per_thread"] = threading.local()
    kind = type(provider)
    sets = {name: _SetPerThread(name) for name in _METRIC_SETS}
    provider.__class__ = type(f"PerThread{kind.__name__}", (kind,), sets)


class _BuilderPerThread:
    """boto3's ConditionExpressionBuilder as a DynamoDB resource uses it, one per thread."""

    def __init__(self) -> None:
        self._threads = threading.local()

    def _builder(self) -> Any:
        builder = getattr(self._threads, "builder", None)
        if builder is None:
            from boto3.dynamodb.conditions import ConditionExpressionBuilder

            builder = self._threads.builder = ConditionExpressionBuilder()
        return builder

    def reset(self) -> None:
        self._builder().reset()

    def build_expression(self, condition: Any, is_key_condition: bool = False) -> Any:
        return self._builder().build_expression(condition, is_key_condition=is_key_condition)


def condition_builders_per_thread() -> None:
    """Every DynamoDB resource made from now on builds condition expressions per thread."""
    from boto3.dynamodb.transform import TransformationInjector

    init = TransformationInjector.__init__
    if getattr(init, "_per_thread", False):
        return  # a stack started earlier in this process did it

    def init_per_thread(self: Any, **kwargs: Any) -> None:
        kwargs["condition_builder"] = kwargs.get("condition_builder") or _BuilderPerThread()
        init(self, **kwargs)

    init_per_thread._per_thread = True  # type: ignore[attr-defined]
    TransformationInjector.__init__ = init_per_thread  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """The product builds its own Deps again (from os.environ), as outside the local stack."""
    module = sys.modules.get("genjobs.deps")
    if module is not None:
        module.override(None)


class _KeysPerThread:
    """A powertools formatter's `log_format` (the keys on every line), one dict per thread: each
    thread starts from the keys the formatter had when they were made per thread."""

    def __get__(self, formatter: Any, owner: type | None = None) -> Any:
        if formatter is None:
            return self
        threads = formatter.__dict__["_keys_per_thread"]
        keys = getattr(threads, "keys", None)
        if keys is None:
            keys = threads.keys = dict(formatter.__dict__["_keys_at_start"])
        return keys

    def __set__(self, formatter: Any, keys: dict[str, Any]) -> None:
        formatter.__dict__["_keys_per_thread"].keys = keys


def keys_per_thread(formatter: Any) -> None:
    """Makes the formatter's appended keys (append_keys, remove_keys, clear_state) per thread; the
    product uses them as on Lambda, where one invocation runs at a time."""
    if "_keys_per_thread" in formatter.__dict__:
        return  # a stack started earlier in this process did it (the logger outlives the modules)
    formatter.__dict__["_keys_at_start"] = formatter.__dict__.pop("log_format")
    formatter.__dict__["_keys_per_thread"] = threading.local()
    kind = type(formatter)
    formatter.__class__ = type(f"PerThread{kind.__name__}", (kind,), {"log_format": _KeysPerThread()})
