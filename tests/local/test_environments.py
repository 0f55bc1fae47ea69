"""Each function's execution environment inside the one local process: its own settings and
collaborators, the stack's clock and crash injection, and log keys that stay in their thread."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from boto3.dynamodb.conditions import Attr, Key

from genjobs_local import faults
from genjobs_local.clock import ScaledClock
from genjobs_local.environments import (
    FunctionDeps,
    condition_builders_per_thread,
    keys_per_thread,
    metrics_per_thread,
    one_request_at_a_time,
    running,
)

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions" / "genjobs"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_concurrent_invocations_never_label_each_other_s_lines() -> None:
    # GIVEN a powertools Logger shared by two threads, its keys made per thread
    logger = Logger(service="keys-per-thread", level="INFO")  # not the stack's WARNING in os.environ
    keys_per_thread(logger.registered_formatter)
    lines = Lines()
    lines.setFormatter(logger.registered_formatter)
    logger.addHandler(lines)
    both_bound = threading.Barrier(2)

    def invocation(job_id: str) -> None:
        logger.clear_state()
        logger.append_keys(jobId=job_id)
        both_bound.wait()  # each binds its job before either logs
        logger.info("working")

    # WHEN each thread binds its own job with the ordinary (Lambda) calls and logs
    threads = [threading.Thread(target=invocation, args=(job,)) for job in ("job-a", "job-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each line names its own job, and the service still labels every line
    assert sorted(str(line["jobId"]) for line in lines.lines) == ["job-a", "job-b"]
    assert {line["service"] for line in lines.lines} == {"keys-per-thread"}


def test_each_invocation_reads_its_own_function_s_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN two functions with different environments, and the stack's time scale
    monkeypatch.setenv("TIME_SCALE", "0.01")
    per_function = FunctionDeps(
        {
            "NotifierFunction": {"TABLE_NAME": "jobs", "JOB_EVENTS_TOPIC_ARN": "arn:topic"},
            "SubmitterFunction": {"TABLE_NAME": "jobs", "SUBMIT_QUEUE_URL": "https://queue"},
        }
    )

    # WHEN each reads its settings inside its invocation
    with running("SubmitterFunction"):
        submitter = per_function.settings
    with running("NotifierFunction"):
        notifier = per_function.settings

    # THEN each has its own, lacking the other's; outside any invocation an operator sees both
    assert submitter.submit_queue_url == "https://queue"
    assert notifier.job_events_topic_arn == "arn:topic"
    with pytest.raises(AttributeError, match="SUBMIT_QUEUE_URL"):
        _ = notifier.submit_queue_url
    assert (per_function.settings.submit_queue_url, per_function.settings.job_events_topic_arn) == (
        "https://queue",
        "arn:topic",
    )
    # AND every function runs on the stack's clock, with crash injection
    with running("SubmitterFunction"):
        assert per_function.clock.duration(100) == timedelta(seconds=1)
        assert isinstance(per_function.checkpoints, faults.Crashes)


def test_the_scaled_clock_counts_schedule_seconds() -> None:
    # GIVEN a clock on which a schedule second lasts 10 ms
    clock = ScaledClock(0.01)

    # THEN one wall second ago is 100 schedule seconds ago
    elapsed = clock.seconds_since(datetime.now(UTC) - timedelta(seconds=1))
    assert 100 <= elapsed < 110


def test_every_checkpoint_the_product_marks_can_be_armed_and_only_those() -> None:
    # GIVEN the boundaries the product's code reaches
    reached = {
        name
        for path in FUNCTIONS.rglob("*.py")
        for name in re.findall(r'checkpoints\.reach\(\s*"([^"]+)"', path.read_text())
    }

    # THEN the fault tests can arm each of them, and nothing else
    assert reached == faults.BOUNDARIES


def test_concurrent_api_requests_each_see_their_own_route() -> None:
    # GIVEN a resolver whose middleware pauses between matching a request and calling its route
    # (powertools keeps the matched route's arguments on the resolver), made one request at a time
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    one_request_at_a_time()
    app = APIGatewayHttpResolver()

    def pause(app: APIGatewayHttpResolver, next_middleware: Any) -> Any:
        time.sleep(0.2)
        return next_middleware(app)

    app.use(middlewares=[pause])

    @app.get("/items/<item>")
    def read(item: str) -> dict[str, str]:
        return {"item": item}

    def event(item: str) -> dict[str, Any]:
        return {
            "version": "2.0",
            "routeKey": "GET /items/{item}",
            "rawPath": f"/items/{item}",
            "pathParameters": {"item": item},
            "requestContext": {"http": {"method": "GET", "path": f"/items/{item}"}, "stage": "$default"},
            "isBase64Encoded": False,
        }

    answers: dict[str, str] = {}

    def request(item: str) -> None:
        answers[item] = json.loads(app.resolve(event(item), None)["body"])["item"]  # type: ignore[arg-type]

    # WHEN two requests for different items arrive while the first is still being resolved
    first = threading.Thread(target=request, args=("a",))
    first.start()
    time.sleep(0.05)
    request("b")
    first.join()

    # THEN each was answered for its own item
    assert answers == {"a": "a", "b": "b"}


def test_concurrent_invocations_sharing_a_table_each_query_their_own_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN one DynamoDB table resource (as a function's Deps holds it) shared by 8 threads, the
    # local runtime's per-thread condition builders installed, and threads switching very often
    condition_builders_per_thread()
    table = boto3.resource("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9").Table("t")
    seen: list[tuple[str, str]] = []

    def spelled_out(expression: str, names: dict[str, str], values: dict[str, Any]) -> str:
        expression = re.sub(r"#n\d+", lambda m: names[m.group()], expression)
        return re.sub(r":v\d+", lambda m: values[m.group()]["S"], expression)

    def answer_without_sending(params: dict[str, Any], **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        body = json.loads(params["body"])
        names, values = body["ExpressionAttributeNames"], body["ExpressionAttributeValues"]
        seen.append(
            (
                spelled_out(body["KeyConditionExpression"], names, values),
                spelled_out(body["FilterExpression"], names, values),
            )
        )
        return SimpleNamespace(status_code=200, headers={}), {"Items": [], "Count": 0}

    table.meta.client.meta.events.register("before-call.dynamodb.Query", answer_without_sending)
    asked: list[tuple[str, str]] = []
    lock = threading.Lock()

    def invocation(n: int) -> None:
        for i in range(150):
            job = f"JOB#{n}-{i}"
            with lock:
                asked.append((f"(pk = {job} AND begins_with(sk, TASK#))", "status = FAILED"))
            table.query(
                KeyConditionExpression=Key("pk").eq(job) & Key("sk").begins_with("TASK#"),
                FilterExpression=Attr("status").eq("FAILED"),
            )

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=invocation, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)

    # THEN every request says what its query asked (none took another's placeholder names or values)
    assert sorted(seen) == sorted(asked)


def test_concurrent_invocations_flush_only_their_own_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a powertools metrics provider shared by two threads, its sets made per thread
    provider = AmazonCloudWatchEMFProvider(namespace="genjobs", service="per-thread")
    metrics_per_thread(provider)
    a_added, b_flushed = threading.Barrier(2), threading.Barrier(2)

    def invocation_a() -> None:
        provider.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
        a_added.wait()
        b_flushed.wait()  # the other invocation ends first
        provider.flush_metrics(raise_on_empty_metrics=True)

    def invocation_b() -> None:
        a_added.wait()
        provider.add_metric(name="TasksCompleted", unit=MetricUnit.Count, value=2)
        provider.flush_metrics(raise_on_empty_metrics=True)
        b_flushed.wait()

    # WHEN both record a metric and flush at the end of their invocation, B's ending first
    threads = [threading.Thread(target=invocation_a), threading.Thread(target=invocation_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each flush holds its own invocation's metric, with the provider's service dimension
    flushed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    names = [[m["Name"] for m in f["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for f in flushed]
    assert names == [["TasksCompleted"], ["JobsCreated"]]
    assert [f["service"] for f in flushed] == ["per-thread", "per-thread"]
