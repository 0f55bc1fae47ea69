"""Fixtures serving real HTTP on 127.0.0.1 for the provider tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genjobs.providers import build_provider
from genjobs.providers.simulator import SimulatorProvider
from genjobs_local.simulator import SimulatorServer

from .provider_test_servers import SIM_SCALE, StubServer, WebhookSink


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    server = WebhookSink()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(time_scale=SIM_SCALE).start()
    yield server
    server.stop()


@pytest.fixture
def provider(sim: SimulatorServer) -> SimulatorProvider:
    built = build_provider("simulator", base_url=sim.base_url, webhook_secret=sim.webhook_secret)
    assert isinstance(built, SimulatorProvider)
    return built
