"""Operators are paged through AlarmTopic for poison submissions, failed pushes, failed executions and
stuck jobs; each alarm watches the resource or metric that really carries the signal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.template import template

pytestmark = pytest.mark.contract

SWEEPER = Path(__file__).resolve().parents[2] / "functions" / "genjobs" / "logic" / "sweeper.py"

# alarm -> (namespace, metric, dimension name, what the dimension must refer to)
EXPECTED = {
    "SubmitDLQDepthAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        {"!GetAtt": "SubmitDLQ.QueueName"},
    ),
    "NotifyDLQDepthAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        {"!GetAtt": "NotifyDLQ.QueueName"},
    ),
    "RunDLQDepthAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        {"!GetAtt": "RunDeadLetterQueue.QueueName"},
    ),
    "FailedExecutionsAlarm": (
        "AWS/States",
        "ExecutionsFailed",
        "StateMachineArn",
        {"!Ref": "GenerationStateMachine"},
    ),
    "StuckJobsAlarm": ("genjobs", "StuckJobs", "service", "genjobs"),
}


def alarm(logical_id: str) -> dict[str, Any]:
    resource = template()["Resources"].get(logical_id)
    assert resource is not None, f"no {logical_id} in template.yaml"
    assert resource["Type"] == "AWS::CloudWatch::Alarm"
    return dict(resource["Properties"])


@pytest.mark.parametrize("logical_id", sorted(EXPECTED))
def test_alarm_watches_its_signal_and_notifies_the_alarm_topic(logical_id: str) -> None:
    # GIVEN the alarm of the template
    props = alarm(logical_id)
    namespace, metric, dimension, value = EXPECTED[logical_id]

    # THEN it watches the right metric of the right resource, fires on the first occurrence, stays
    # quiet without data, and notifies AlarmTopic
    assert (props["Namespace"], props["MetricName"]) == (namespace, metric)
    assert props["Dimensions"] == [{"Name": dimension, "Value": value}]
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["Threshold"] == 0
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == [{"!Ref": "AlarmTopic"}]
    assert "docs/runbook.md" in props["AlarmDescription"]


def test_every_alarm_of_the_template_is_reviewed_here() -> None:
    alarms = {lid for lid, r in template()["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == set(EXPECTED)
    assert template()["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert template()["Outputs"]["AlarmTopicArn"]["Value"] == {"!Ref": "AlarmTopic"}


def test_stuck_jobs_metric_is_emitted_where_its_alarm_looks() -> None:
    # GIVEN the functions' metrics namespace and service (powertools adds the service dimension)
    env = template()["Globals"]["Function"]["Environment"]["Variables"]
    namespace, metric, _, service = EXPECTED["StuckJobsAlarm"]

    # THEN the alarm's namespace and dimension are the functions', and the sweeper emits the metric
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == namespace
    assert env["POWERTOOLS_SERVICE_NAME"] == service
    assert f'name="{metric}"' in SWEEPER.read_text()
