"""The local stack creates exactly what template.yaml declares, with the local parameters."""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

import pytest

from genjobs_local import LocalStack
from genjobs_local.environments import process_environment
from genjobs_local.paths import DEFAULT_TEMPLATE
from genjobs_local.template import translate


def _in_an_api(stack: LocalStack, listing: str, id_field: str, physical_id: str) -> bool:
    """A WebSocket API's integration or route, found among the APIs' own."""
    apis = stack.client("apigatewayv2").get_apis()["Items"]
    client = stack.client("apigatewayv2")
    return any(
        i[id_field] == physical_id for a in apis for i in getattr(client, listing)(ApiId=a["ApiId"])["Items"]
    )


def _route_response(stack: LocalStack, physical_id: str) -> bool:
    client = stack.client("apigatewayv2")
    for api in client.get_apis()["Items"]:
        for route in client.get_routes(ApiId=api["ApiId"])["Items"]:
            try:
                client.get_route_response(
                    ApiId=api["ApiId"], RouteId=route["RouteId"], RouteResponseId=physical_id
                )
                return True
            except client.exceptions.NotFoundException:
                continue
    return False


def _exists(stack: LocalStack, resource_type: str, physical_id: str) -> bool:
    """Ask moto, through its API, whether the resource is there."""
    checks: dict[str, Any] = {
        "AWS::DynamoDB::Table": lambda: stack.client("dynamodb").describe_table(TableName=physical_id),
        "AWS::S3::Bucket": lambda: stack.client("s3").head_bucket(Bucket=physical_id),
        "AWS::S3::BucketPolicy": lambda: stack.client("s3").get_bucket_policy(Bucket=physical_id),
        "AWS::SQS::Queue": lambda: stack.client("sqs").get_queue_attributes(QueueUrl=physical_id),
        "AWS::SNS::Topic": lambda: stack.client("sns").get_topic_attributes(TopicArn=physical_id),
        "AWS::SNS::Subscription": lambda: stack.client("sns").get_subscription_attributes(
            SubscriptionArn=physical_id
        ),
        "AWS::SecretsManager::Secret": lambda: stack.client("secretsmanager").describe_secret(
            SecretId=physical_id
        ),
        "AWS::Lambda::Function": lambda: stack.client("lambda").get_function(FunctionName=physical_id),
        "AWS::Lambda::LayerVersion": lambda: stack.client("lambda").get_layer_version(
            LayerName=physical_id.split(":")[6], VersionNumber=int(physical_id.split(":")[7])
        ),
        "AWS::Lambda::EventSourceMapping": lambda: stack.client("lambda").get_event_source_mapping(
            UUID=physical_id
        ),
        "AWS::IAM::Role": lambda: stack.client("iam").get_role(RoleName=physical_id),
        "AWS::CloudWatch::Alarm": lambda: stack.client("cloudwatch").describe_alarms(
            AlarmNames=[physical_id]
        )["MetricAlarms"][0],
        "AWS::Logs::LogGroup": lambda: stack.client("logs").describe_log_groups(
            logGroupNamePrefix=physical_id
        )["logGroups"][0],
        "AWS::StepFunctions::StateMachine": lambda: stack.client("stepfunctions").describe_state_machine(
            stateMachineArn=physical_id
        ),
        "AWS::Scheduler::Schedule": lambda: stack.client("scheduler").get_schedule(Name=physical_id),
        "AWS::KMS::Key": lambda: stack.client("kms").describe_key(KeyId=physical_id)["KeyMetadata"],
        "AWS::ApiGatewayV2::Api": lambda: stack.client("apigatewayv2").get_api(ApiId=physical_id),
        "AWS::ApiGatewayV2::Stage": lambda: stack.client("apigatewayv2").get_stage(
            ApiId=stack.resource("HttpApi"), StageName=physical_id
        ),
        # moto keeps no X-Ray sampling rules: the stack records the rule (the bench prices traces by it)
        "AWS::XRay::SamplingRule": lambda: physical_id or None,
        "AWS::ApiGatewayV2::Integration": lambda: _in_an_api(
            stack, "get_integrations", "IntegrationId", physical_id
        ),
        "AWS::ApiGatewayV2::Route": lambda: _in_an_api(stack, "get_routes", "RouteId", physical_id),
        "AWS::ApiGatewayV2::RouteResponse": lambda: _route_response(stack, physical_id),
    }
    if resource_type == "AWS::Lambda::Permission":  # a statement in the function's policy
        statements = []  # in the policy of the function whose logical id prefixes the permission's
        for lid, name in stack.resources.items():
            if stack.resource_types[lid] == "AWS::Lambda::Function" and physical_id.startswith(lid):
                statements += json.loads(stack.client("lambda").get_policy(FunctionName=name)["Policy"])[
                    "Statement"
                ]
        return any(s["Sid"] == physical_id for s in statements)
    checks[resource_type]()
    return True


def _queue_policy_applied(stack: LocalStack, declared: dict[str, Any]) -> bool:
    queue_ids = [q["Ref"] for q in declared["Properties"]["Queues"]]
    attributes = [
        stack.client("sqs").get_queue_attributes(QueueUrl=stack.resource(q), AttributeNames=["Policy"])
        for q in queue_ids
    ]
    return all("sns.amazonaws.com" in a["Attributes"]["Policy"] for a in attributes)


def test_every_resource_of_the_template_exists_in_moto(stack: LocalStack) -> None:
    # GIVEN the translated template
    translated = translate(DEFAULT_TEMPLATE, {"Stage": "local", "JwtIssuer": "x", "JwtAudience": "x"})
    declared = translated.cfn["Resources"]

    # WHEN the stack has started
    # THEN every declared resource was created, and moto answers for it
    assert sorted(stack.resources) == sorted(declared)
    missing = [
        lid
        for lid, pid in stack.resources.items()
        if not (
            _queue_policy_applied(stack, declared[lid])
            if declared[lid]["Type"] == "AWS::SQS::QueuePolicy"
            else _exists(stack, declared[lid]["Type"], pid)
        )
    ]
    assert missing == []


def test_outputs_name_the_local_resources(stack: LocalStack) -> None:
    # WHEN reading the template's outputs
    outputs = stack.outputs

    # THEN they are resolved against the local resources, and the API URL is the local one
    assert outputs["ApiUrl"] == stack.api_url
    assert outputs["JobsTableName"] == "genjobs-local-jobs" == stack.resource("JobsTable")
    assert outputs["SubmitQueueUrl"] == stack.resource("SubmitQueue")
    assert outputs["GenerationStateMachineArn"].endswith(":stateMachine:genjobs-local-generation")


def test_state_machine_is_registered_with_substitutions_resolved(stack: LocalStack) -> None:
    # WHEN reading the state machine's definition back from moto
    described = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.resource("GenerationStateMachine")
    )
    definition = described["definition"]

    # THEN no ${...} placeholder is left and the ARNs are the local ones
    assert "${" not in definition
    states = json.loads(definition)["States"]
    prepare_arn = states["PrepareJob"]["Parameters"]["FunctionName"]
    assert prepare_arn == "arn:aws:lambda:us-east-1:123456789012:function:genjobs-local-prepare-job"
    assert states["RunTasks"]["ItemReader"]["Parameters"]["Bucket"] == stack.resource("OutputBucket")


def test_parameters_are_the_local_ones(stack: LocalStack) -> None:
    # THEN the issuer is the local front, the platforms exist in moto and the simulator URL is set
    assert stack.parameters["JwtIssuer"] == stack.issuer
    assert stack.parameters["JwtAudience"] == ["genjobs-local"]
    assert stack.parameters["PublicBaseUrl"] == stack.api_url
    sns = stack.client("sns")
    for name in ("FcmPlatformApplicationArn", "ApnsPlatformApplicationArn"):
        sns.get_platform_application_attributes(PlatformApplicationArn=stack.parameters[name])
    assert stack.parameters["SimulatorBaseUrl"] == stack.simulator_url


def test_functions_see_the_template_environment(stack: LocalStack, fake: Any) -> None:
    # GIVEN a function that reports the settings it read from its environment
    def report(event: Any, context: Any) -> dict[str, str]:
        settings = importlib.import_module("genjobs.deps").deps().settings
        return {"TABLE_NAME": settings.table_name, "SUBMIT_QUEUE_URL": settings.submit_queue_url}

    fake("SubmitterFunction", report)

    # WHEN it is invoked
    result = stack.invoke("SubmitterFunction", {})

    # THEN it sees the resolved Globals environment
    assert result == {"TABLE_NAME": "genjobs-local-jobs", "SUBMIT_QUEUE_URL": stack.resource("SubmitQueue")}


def test_each_function_sees_only_its_own_environment(stack: LocalStack, fake: Any) -> None:
    # GIVEN two functions whose environments differ: the submitter has the submit queue, the
    # notifier does not
    def queue_url(event: Any, context: Any) -> str:
        try:
            return str(importlib.import_module("genjobs.deps").deps().settings.submit_queue_url)
        except AttributeError as missing:
            return str(missing)

    fake("SubmitterFunction", queue_url)
    fake("NotifierFunction", queue_url)

    # WHEN each is invoked, THEN each reads its own: the notifier is told the setting is not its own
    assert stack.invoke("SubmitterFunction", {}) == stack.resource("SubmitQueue")
    assert stack.invoke("NotifierFunction", {}) == (
        "SUBMIT_QUEUE_URL is not in this function's environment (template.yaml)"
    )
    assert "SUBMIT_QUEUE_URL" not in os.environ


def test_conflicting_environments_fail_loudly() -> None:
    # GIVEN two functions that give a variable a library reads from the process different values
    variables = {
        "AFunction": {"POWERTOOLS_LOG_LEVEL": "INFO", "SHARED": "x"},
        "BFunction": {"POWERTOOLS_LOG_LEVEL": "DEBUG", "SHARED": "x"},
    }

    # WHEN merged into the one process environment
    # THEN the start fails and names both
    with pytest.raises(ValueError, match="'AFunction': 'INFO', 'BFunction': 'DEBUG'"):
        process_environment(variables)


def test_the_process_environment_is_what_every_function_shares() -> None:
    # GIVEN functions sharing one variable and each giving another its own value
    variables = {"AFunction": {"MODE": "a", "SHARED": "x"}, "BFunction": {"MODE": "b", "SHARED": "x"}}

    # THEN only the shared one goes to os.environ (each function reads MODE from its own settings)
    assert process_environment(variables) == {"SHARED": "x"}


def test_provider_secret_holds_the_simulator_webhook_secret(stack: LocalStack) -> None:
    # WHEN reading the provider secret
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.resource("ProviderSecret"))

    # THEN the simulator's webhook secret is there, where the functions look for provider secrets
    assert json.loads(secret["SecretString"])["simulator"]["webhookSecret"]


def test_a_generated_secret_is_generated_as_declared(stack: LocalStack) -> None:
    # WHEN reading the cursor key secret, which the template has CloudFormation generate
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.resource("CursorKeySecret"))

    # THEN it is a random password of the declared length and alphabet, not empty
    value = secret["SecretString"]
    assert len(value) == 64
    assert value.isalnum()
