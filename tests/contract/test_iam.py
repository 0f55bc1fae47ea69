"""Least privilege in template.yaml: no wildcard actions, and `Resource: "*"` only where AWS offers no
resource-level permission (each such place listed here with its reason)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.template import template

pytestmark = pytest.mark.contract

# (resource, action) -> why "*" is needed
WILDCARD_RESOURCES_ALLOWED = {
    (
        "ApiFunction",
        "sns:CreatePlatformEndpoint",
    ): "platform application ARNs are parameters that may be empty",
    ("ApiFunction", "sns:DeleteEndpoint"): "endpoints are created per device at run time",
    ("ApiFunction", "sns:SetEndpointAttributes"): "endpoints are created per device at run time",
    ("ApiFunction", "sns:GetEndpointAttributes"): "endpoints are created per device at run time",
    ("NotifierFunction", "sns:Publish"): "pushes go to per-device endpoints created at run time",
    ("NotifierFunction", "sns:GetEndpointAttributes"): "per-device endpoints",
    ("NotifierFunction", "sns:DeleteEndpoint"): "stale per-device endpoints are pruned",
    **{
        (
            "GenerationStateMachine",
            f"logs:{a}",
        ): "CloudWatch Logs delivery APIs have no resource-level permissions"
        for a in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
}

# SAM policy templates, each scoped by its parameter to one table, bucket, queue, topic or function.
SCOPED_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy",
    "SQSSendMessagePolicy",
    "SNSPublishMessagePolicy",
    "LambdaInvokePolicy",
    "StepFunctionsExecutionPolicy",
    "AWSSecretsManagerGetSecretValuePolicy",
}


def statements() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in template()["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            if isinstance(policy, dict) and "Statement" in policy:
                found += [(logical_id, s) for s in policy["Statement"]]
            elif isinstance(policy, dict):
                (name,) = policy
                assert name in SCOPED_POLICY_TEMPLATES, f"{logical_id}: unreviewed policy template {name}"
            else:
                pytest.fail(f"{logical_id}: managed policy {policy!r} instead of a scoped statement")
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_statement_grants_a_wildcard_action() -> None:
    for logical_id, statement in statements():
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{logical_id} grants {action}"


def test_wildcard_resources_only_where_aws_has_no_resource_level_permission() -> None:
    unexplained = [
        (logical_id, action)
        for logical_id, statement in statements()
        if "*" in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
        if (logical_id, action) not in WILDCARD_RESOURCES_ALLOWED
    ]
    assert unexplained == []


def test_every_function_has_scoped_permissions_and_no_admin_role() -> None:
    for logical_id, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            assert "Role" not in props, f"{logical_id} brings its own role"
            assert props.get("Policies"), f"{logical_id} has no policies"


def test_outputs_bucket_is_private_and_encrypted() -> None:
    bucket = template()["Resources"]["OutputBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    policy = template()["Resources"]["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in policy
    )


def policy_templates(logical_id: str, name: str) -> list[Any]:
    """The parameters of each use of SAM policy template `name` by a resource."""
    policies = template()["Resources"][logical_id]["Properties"].get("Policies", []) or []
    return [p[name] for p in policies if isinstance(p, dict) and name in p]


def test_only_functions_that_call_providers_can_read_the_provider_secret() -> None:
    # The API, the workflow's bookkeeping functions and the notifier never talk to a provider.
    readers = secret_readers("ProviderSecret")
    assert readers == {"SubmitterFunction", "PollTaskFunction", "WebhookFunction", "SweeperFunction"}


def test_only_the_api_can_read_the_cursor_key() -> None:
    assert secret_readers("CursorKeySecret") == {"ApiFunction"}


def secret_readers(secret: str) -> set[str]:
    """Functions granted GetSecretValue on `secret`; every such grant names one secret of the template."""
    readers = set()
    for logical_id, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for grant in policy_templates(logical_id, "AWSSecretsManagerGetSecretValuePolicy"):
            assert set(grant) == {"SecretArn"}, (logical_id, grant)
            assert "!Ref" in grant["SecretArn"], (logical_id, grant)
            if grant["SecretArn"]["!Ref"] == secret:
                readers.add(logical_id)
    return readers


def test_state_machine_invokes_only_its_own_task_functions() -> None:
    machine = template()["Resources"]["GenerationStateMachine"]["Properties"]
    substituted = {
        value["!GetAtt"].split(".")[0]
        for value in machine["DefinitionSubstitutions"].values()
        if isinstance(value, dict) and "!GetAtt" in value and value["!GetAtt"].endswith(".Arn")
    }
    invoked = {
        p["FunctionName"]["!Ref"] for p in policy_templates("GenerationStateMachine", "LambdaInvokePolicy")
    }
    assert invoked == substituted
    assert policy_templates("GenerationStateMachine", "SQSSendMessagePolicy") == [
        {"QueueName": {"!GetAtt": "SubmitQueue.QueueName"}}
    ]


def test_task_tokens_are_answered_only_for_the_generation_state_machine() -> None:
    for logical_id, statement in statements():
        actions = as_list(statement["Action"])
        if any(a.startswith("states:SendTask") for a in actions):
            assert statement["Resource"] == {"!Ref": "GenerationStateMachine"}, logical_id


def test_no_function_may_delete_outputs_or_change_the_bucket() -> None:
    for logical_id, statement in statements():
        for action in as_list(statement["Action"]):
            if action.startswith("s3:"):
                allowed = {
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                }
                assert action in allowed, (logical_id, action)
