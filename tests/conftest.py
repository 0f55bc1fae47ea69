"""Shared fixtures: the functions package on the path, and AWS settings that never reach AWS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

# Nothing in the tests may talk to real AWS.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "genjobs")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "genjobs")


def pytest_collection_modifyitems(config: object, items: list[object]) -> None:
    """The runtime's tests (tests/local) and the product's end-to-end tests each need their own
    embedded stack, and a process holds one at a time: refuse to mix them in one run."""
    import pytest

    paths = {str(getattr(item, "path", "")) for item in items}
    local = any("/tests/local/" in p for p in paths)
    others = any("/tests/e2e/" in p for p in paths)
    if local and others:
        raise pytest.UsageError(
            "run tests/local in its own pytest process (make test does): "
            "`pytest --ignore=tests/local` then `pytest tests/local`"
        )
    # In-process moto (mock_aws) resets every backend when it starts and stops, which would wipe a
    # running stack's resources: the end-to-end tests, which start the stack, run last.
    items.sort(key=lambda item: "/tests/e2e/" in str(getattr(item, "path", "")))
