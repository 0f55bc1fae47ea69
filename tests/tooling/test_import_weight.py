"""A handler's import (its cold start) loads only what every invocation of it needs.

Each handler module is imported in a fresh interpreter, with the functions' code on the path and
tracing off as locally and in the bench, and what it pulled into sys.modules is checked. Timing
belongs to the bench (bench/scenarios/coldstart.py); this only keeps heavy modules from coming back.
To find what imports a module: `python -X importtime -c "import genjobs.handlers.api" 2>&1 | less`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]

# Imported by the first call that needs them, never by a handler's import.
NEVER_AT_IMPORT = {
    "aws_xray_sdk.core": "the X-Ray recorder: only where tracing is on (genjobs.observability)",
    "cryptography": "fal's webhook signatures: imported by their verification",
    "boto3": "the first AWS client (genjobs.dal.aws)",
    "s3transfer": "boto3's",
    "awscrt": "botocore's, when installed",
    "requests": "the first provider call or output download",
    "genjobs.providers.fal": "an adapter: the registry imports it when it builds one",
    "genjobs.providers.replicate": "an adapter",
    "genjobs.providers.generic_http": "an adapter",
    "genjobs.providers.simulator": "an adapter",
    "genjobs.providers.transport": "the adapters' HTTP session",
    "aws_lambda_powertools.event_handler.openapi.models": "GET /openapi.json only",
    "aws_lambda_powertools.utilities.idempotency": "a create with an Idempotency-Key only",
    "aws_lambda_powertools.utilities.parameters": "the provider secret, read with the first provider",
}
# Needed by some handlers' every invocation: the others must not import them.
ONLY_FOR = {
    # The API's resolver, and the console's (its static files on the same HTTP API).
    "aws_lambda_powertools.event_handler": {"api", "console"},
    "aws_lambda_powertools.utilities.batch": {
        "submitter",
        "submit_dead_letter",
        "notifier",
        "runner",
        "bulk",
        "dispatcher",
    },
    "genjobs.batches": {"submitter", "submit_dead_letter", "notifier", "runner", "bulk", "dispatcher"},
    # The bulk consumer retries each job with the API's own request model.
    # The live channel's frames show a job's progress as the API's views compute it.
    "genjobs.models.api": {"api", "bulk", "live"},
    "genjobs.catalog": {
        "api",
        "webhook",
        "prepare_job",
        "plan_tasks",  # a manifest item's first check is its model's expected latency
        "poll_task",
        "runner",  # a sync step's deadline is its model's
        "settle_job",
        "submitter",
        "sweeper",
        "dispatcher",  # the limits of every provider and model
    },
}

_PROBE = "import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"


def _handler_modules() -> list[str]:
    functions = resources_of_type(load_template(), "AWS::Serverless::Function").values()
    return sorted({f["Properties"]["Handler"].rsplit(".", 1)[0] for f in functions})


def _environment(**overrides: str) -> dict[str, str]:
    """The test's environment without its Python, AWS and Lambda settings, plus `overrides`."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "POWERTOOLS_", "LAMBDA_"))
    }
    return inherited | {"PYTHONPATH": str(ROOT / "functions"), "AWS_DEFAULT_REGION": "us-east-1"} | overrides


def _run(code: str, env: dict[str, str]) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _loaded(modules: list[str], name: str) -> list[str]:
    return [m for m in modules if m == name or m.startswith(name + ".")]


def test_the_allowances_name_handlers_of_the_template() -> None:
    # GIVEN the handlers of the template's functions, THEN the allowances above name only them
    handlers = {module.rsplit(".", 1)[1] for module in _handler_modules()}
    for name, allowed in ONLY_FOR.items():
        assert allowed <= handlers, (name, allowed - handlers)
    assert handlers


@pytest.mark.parametrize("module", _handler_modules())
def test_a_handler_import_loads_nothing_it_does_not_need(module: str) -> None:
    # GIVEN a fresh interpreter with tracing off
    env = _environment(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME="genjobs")
    # WHEN the handler module is imported
    modules = _run(_PROBE.format(module=module), env)
    name = module.rsplit(".", 1)[1]
    # THEN nothing that waits for a first call, nor another function's needs, came with it
    unexpected = {
        heavy: f"{why}: {_loaded(modules, heavy)[:3]}"
        for heavy, why in NEVER_AT_IMPORT.items()
        if _loaded(modules, heavy)
    }
    unexpected |= {
        heavy: f"only {sorted(allowed)} need it"
        for heavy, allowed in ONLY_FOR.items()
        if name not in allowed and _loaded(modules, heavy)
    }
    unexpected |= {
        other: "another function's handler"
        for other in modules
        if other.startswith("genjobs.handlers.") and other != module
    }
    assert not unexpected, f"{module} imports {json.dumps(unexpected, indent=2)}"


def test_with_tracing_on_the_tracer_still_traces_with_x_ray() -> None:
    # GIVEN Lambda's environment with tracing on (as on AWS: Tracing: Active, no POWERTOOLS_TRACE_DISABLED)
    env = _environment(LAMBDA_TASK_ROOT="/var/task", AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000")
    # WHEN the shared Tracer is built
    code = (
        "import json; from genjobs.observability import tracer; "
        "print(json.dumps([tracer.disabled, type(tracer.provider).__module__]))"
    )
    disabled, provider = _run(code, env)
    # THEN it is enabled and records with the X-Ray SDK, exactly as powertools sets it up
    assert disabled is False
    assert provider.startswith("aws_xray_sdk.")
