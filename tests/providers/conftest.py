"""Fixtures serving real HTTP on 127.0.0.1 for the provider tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .provider_test_servers import StubServer, WebhookSink


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
