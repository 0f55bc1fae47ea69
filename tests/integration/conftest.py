"""In-process AWS (moto) with the template's tables, bucket, queue and topic, for logic-level tests."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from genjobs import deps as deps_module
from genjobs.dal import aws
from genjobs.deps import Deps
from genjobs.settings import Settings
from tests.support.template import table_definition


@pytest.fixture
def deps() -> Iterator[Deps]:
    with mock_aws():
        aws.reset()
        ddb = boto3.client("dynamodb")
        ddb.create_table(**table_definition("JobsTable", "jobs"))
        ddb.create_table(**table_definition("IdempotencyTable", "idempotency"))
        boto3.client("s3").create_bucket(Bucket="outputs")
        queue = boto3.client("sqs").create_queue(QueueName="submit")["QueueUrl"]
        topic = boto3.client("sns").create_topic(Name="events")["TopicArn"]
        cursor_key = boto3.client("secretsmanager").create_secret(Name="cursor-key", SecretString="k" * 64)
        settings = Settings.model_validate(
            {
                "STAGE": "test",
                "TABLE_NAME": "jobs",
                "IDEMPOTENCY_TABLE_NAME": "idempotency",
                "OUTPUT_BUCKET": "outputs",
                "SUBMIT_QUEUE_URL": queue,
                "JOB_EVENTS_TOPIC_ARN": topic,
                "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:none",
                "SIMULATOR_BASE_URL": "http://127.0.0.1:9",
                "CURSOR_KEY_SECRET_ARN": cursor_key["ARN"],
            }
        )
        d = Deps(settings=settings)
        deps_module.override(d)
        yield d
        deps_module.override(None)
        aws.reset()
