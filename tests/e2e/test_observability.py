"""What operators see of a running stack: log lines labelled with their job and task, metrics, no secrets."""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from genjobs.providers.webhooks import signed_headers
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, provider_webhook_secret, sim_job
from tests.support.template import template

pytestmark = [pytest.mark.e2e]

# Lines about many jobs at once (they name each job in their own fields): the sweeper's and the
# dispatcher's passes.
NOT_ABOUT_ONE_JOB = ("handlers/sweeper.py", "logic/sweeper.py", "handlers/dispatcher.py")
# Code that acts on one task: its lines also carry taskIndex.
ABOUT_ONE_TASK = ("logic/tasks.py", "handlers/webhook.py", "handlers/submitter.py")


class Lines(logging.Handler):
    """Every record of the functions' logger, formatted as the functions print it (JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.pathname, json.loads(self.format(record))))


@pytest.fixture
def log_lines(stack: LocalStack) -> Iterator[Lines]:
    """Captures the functions' log lines at DEBUG (more than production logs, to catch more leaks)."""
    powertools = importlib.import_module("genjobs.observability").logger
    lines = Lines()
    lines.setFormatter(powertools.registered_formatter)
    level = powertools.log_level
    powertools.addHandler(lines)
    powertools.setLevel("DEBUG")
    try:
        yield lines
    finally:
        powertools.removeHandler(lines)
        powertools.setLevel(level)


@pytest.fixture
def quiet(stack: LocalStack) -> None:
    """No job of an earlier test is still running (their lines would mix with this test's)."""
    stack.wait_idle(timeout=60)


def test_every_line_about_a_job_names_it_and_its_task(
    stack: LocalStack, app: Client, quiet: None, log_lines: Lines
) -> None:
    # GIVEN a polling job whose provider throttles each submission once and fails a status call, and a
    # webhook job that receives a delivery it refuses
    polled = app.create(sim_job(2, throttle=1, statusErrors=1))["jobId"]
    hooked = app.create(sim_job(1, model="sim-image-webhook"))["jobId"]
    forged = b"{}"
    requests.post(
        f"{stack.api_url}/webhooks/simulator",
        params={"job": hooked, "task": "0"},
        data=forged,
        headers=signed_headers("whsec_" + base64.b64encode(b"forged-key").decode(), "msg-x", forged),
        timeout=10,
    )

    # WHEN both run to the end
    assert app.wait(polled)["status"] == "COMPLETED"
    assert app.wait(hooked)["status"] == "COMPLETED"
    stack.wait_idle()

    # THEN there were lines about them (the poll failure, the refused webhook), and every line not
    # about many jobs names its job, and its task where it acts on one
    about_jobs = [(path, line) for path, line in log_lines.records if not path.endswith(NOT_ABOUT_ONE_JOB)]
    messages = {line["message"] for _, line in about_jobs}
    assert {"poll failed", "webhook refused"} <= messages
    for path, line in about_jobs:
        assert line.get("jobId") in {polled, hooked}, (path, line)
        if path.endswith(ABOUT_ONE_TASK):
            assert isinstance(line.get("taskIndex"), int), (path, line)


def test_no_log_line_or_output_holds_a_secret_or_a_token(
    stack: LocalStack,
    make_user: Callable[..., Client],
    quiet: None,
    log_lines: Lines,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a user's bearer token, an expired one, and the provider's webhook secret
    app = make_user()
    token = str(app.session.headers["Authorization"]).removeprefix("Bearer ")
    expired = stack.mint_token(app.user, ttl_seconds=-60)
    secret = provider_webhook_secret(stack)

    # WHEN a webhook-mode job runs to the end (its secret read from Secrets Manager, its deliveries
    # verified), a delivery signed with another key and requests with a bad token arrive
    job_id = app.create(sim_job(2, model="sim-image-webhook"))["jobId"]
    body = b'{"id": "x"}'
    requests.post(
        f"{stack.api_url}/webhooks/simulator",
        params={"job": job_id, "task": "0"},
        data=body,
        headers=signed_headers("whsec_" + base64.b64encode(b"another-key").decode(), "msg-y", body),
        timeout=10,
    )
    requests.get(f"{stack.api_url}/jobs", headers={"Authorization": f"Bearer {expired}"}, timeout=10)
    assert app.wait(job_id)["status"] == "COMPLETED"
    stack.wait_idle()

    # THEN lines were written about the job, and none of them, nor anything printed, holds the
    # secret (whole, its key part or the key) or a token (whole or its signature)
    printed = capfd.readouterr()
    text = "\n".join(json.dumps(line) for _, line in log_lines.records) + printed.out + printed.err
    assert job_id in text
    key = base64.b64decode(secret.removeprefix("whsec_"))
    needles = {
        "webhook secret": secret,
        "webhook key (base64)": secret.removeprefix("whsec_"),
        "webhook key": key.decode("latin-1"),
        "bearer token": token,
        "bearer token signature": token.rsplit(".", 1)[1],
        "expired token": expired,
    }
    assert [name for name, needle in needles.items() if needle in text] == []


def metric_blobs(out: str) -> list[dict[str, Any]]:
    """The JSON objects the functions printed. print() writes a line and its newline separately, so
    with invocations running in threads two objects may share a line: each is decoded in turn."""
    decoder, blobs = json.JSONDecoder(), []
    for line in out.splitlines():
        at = 0
        while (at := line.find("{", at)) != -1:
            try:
                blob, at = decoder.raw_decode(line, at)
            except ValueError:
                break
            if isinstance(blob, dict):
                blobs.append(blob)
    return blobs


def test_completed_tasks_report_provider_latency_and_outcomes(
    stack: LocalStack, app: Client, quiet: None, capfd: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a job of 2 polling tasks that the provider runs 5 schedule seconds each, throttling once
    job_id = app.create(sim_job(2, throttle=1))["jobId"]

    # WHEN it completes
    assert app.wait(job_id)["status"] == "COMPLETED"
    stack.wait_idle()

    # THEN the functions emitted (CloudWatch embedded metric format) each task's provider latency in
    # seconds, the task and job outcomes and the throttles
    metrics: dict[str, list[float]] = {}
    for blob in metric_blobs(capfd.readouterr().out):
        if "_aws" in blob:
            for definition in blob["_aws"]["CloudWatchMetrics"]:
                for metric in definition["Metrics"]:
                    value = blob[metric["Name"]]
                    metrics.setdefault(metric["Name"], []).extend(
                        value if isinstance(value, list) else [value]
                    )
                    if metric["Name"] == "ProviderLatency":
                        assert metric["Unit"] == "Seconds"
    latencies = metrics.get("ProviderLatency", [])
    assert len(latencies) == 2
    assert all(5 <= latency < 300 for latency in latencies), latencies
    assert sum(metrics["TasksCompleted"]) >= 2
    assert sum(metrics["JobsCompleted"]) >= 1
    assert sum(metrics["ProviderThrottles"]) >= 2


def test_tracing_is_on_in_the_template_and_off_locally(stack: LocalStack) -> None:
    # GIVEN the template and the running local stack
    globals_ = template()["Globals"]["Function"]
    machine = template()["Resources"]["GenerationStateMachine"]["Properties"]

    # THEN AWS traces the workflow, sampled by its rule, and every function within a sampled trace
    # (the API, where a user's request starts, on its own), while locally (no X-Ray daemon) the
    # functions' Tracer honours POWERTOOLS_TRACE_DISABLED
    resources = template()["Resources"]
    assert globals_["Tracing"] == "PassThrough"
    assert resources["ApiFunction"]["Properties"]["Tracing"] == "Active"
    assert machine["Tracing"] == {"Enabled": True}
    rule = resources["TraceSamplingRule"]["Properties"]["SamplingRule"]
    assert (rule["ServiceType"], rule["ReservoirSize"], rule["FixedRate"]) == (
        "AWS::StepFunctions::StateMachine",
        1,
        0.01,
    )
    assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert importlib.import_module("genjobs.observability").tracer.disabled is True


def test_the_template_never_logs_whole_events() -> None:
    # GIVEN every function's environment
    variables = dict(template()["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template()["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            variables |= resource["Properties"].get("Environment", {}).get("Variables", {})

    # THEN event logging (which would write Authorization headers and webhook signatures) stays off
    assert str(variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() == "false"
    assert variables["POWERTOOLS_LOG_LEVEL"] in {"INFO", "WARNING", "ERROR"}
