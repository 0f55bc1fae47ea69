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
    ("ApiFunction", "states:SendTaskSuccess"): (
        "a pipeline's signal answers its waiting step's token; Step Functions authorises SendTask* on "
        "no resource type"
    ),
    ("NotifierFunction", "sns:Publish"): "pushes go to per-device endpoints created at run time",
    ("NotifierFunction", "sns:GetEndpointAttributes"): "per-device endpoints",
    ("NotifierFunction", "sns:DeleteEndpoint"): "stale per-device endpoints are pruned",
    **{
        (function, f"states:{a}"): (
            "Step Functions authorises SendTaskSuccess/Failure/Heartbeat on no resource type (Service "
            "Authorization Reference); tokens come from Distributed Map child executions anyway"
        )
        for function, actions in {
            "SubmitterFunction": ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"),
            "RunnerFunction": ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"),
            "SweeperFunction": ("SendTaskSuccess", "SendTaskHeartbeat"),
            "WebhookFunction": ("SendTaskSuccess",),
            "SubmitDeadLetterFunction": ("SendTaskSuccess",),
            "DispatcherFunction": ("SendTaskHeartbeat",),
        }.items()
        for a in actions
    },
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
# Not DynamoDBCrudPolicy: it grants Scan, BatchGetItem, DeleteTable... that no function calls.
SCOPED_POLICY_TEMPLATES = {
    "SQSSendMessagePolicy",
    "SNSPublishMessagePolicy",
    "LambdaInvokePolicy",
    "StepFunctionsExecutionPolicy",
    "AWSSecretsManagerGetSecretValuePolicy",
}


def policies(logical_id: str) -> list[Any]:
    """A resource's policies, a conditional one (`!If [condition, policy, !Ref AWS::NoValue]`) as
    the policy it may grant."""
    found = []
    for policy in template()["Resources"][logical_id].get("Properties", {}).get("Policies", []) or []:
        if isinstance(policy, dict) and "!If" in policy:
            _, *branches = policy["!If"]
            found += [b for b in branches if b != {"!Ref": "AWS::NoValue"}]
        else:
            found.append(policy)
    return found


def statements() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id in template()["Resources"]:
        for policy in policies(logical_id):
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
    return [p[name] for p in policies(logical_id) if isinstance(p, dict) and name in p]


def test_only_functions_that_call_providers_can_read_the_provider_secret() -> None:
    # Those that build a provider adapter from the secret: to submit, poll, take webhooks, sweep, and
    # SettleJob to send provider cancels. PrepareJob reads only the catalog (a model's expected
    # latency), so least privilege keeps the secret from it; the API, FailTask, the dead-letter
    # consumer and the notifier never talk to a provider either.
    assert secret_readers("ProviderSecret") == {
        "SubmitterFunction",
        "RunnerFunction",  # a pipeline step's synchronous provider call
        "PollTaskFunction",
        "WebhookFunction",
        "SweeperFunction",
        "SettleJobFunction",
    }


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
        {"QueueName": {"!GetAtt": "SubmitQueue.QueueName"}},
    ]


def test_task_tokens_are_answered_only_by_the_functions_that_answer_them() -> None:
    answerers: dict[str, set[str]] = {}
    for logical_id, statement in statements():
        actions = as_list(statement["Action"])
        if any(a.startswith("states:SendTask") for a in actions):
            assert statement["Resource"] == "*", logical_id
            assert all(a.startswith("states:SendTask") for a in actions), (logical_id, actions)
            answerers.setdefault(logical_id, set()).update(actions)
    assert answerers == {
        "SubmitterFunction": {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"},
        "RunnerFunction": {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"},
        "SweeperFunction": {"states:SendTaskSuccess", "states:SendTaskHeartbeat"},
        "WebhookFunction": {"states:SendTaskSuccess"},
        # It fails and refunds the task itself, then ends the waiting child with success.
        "SubmitDeadLetterFunction": {"states:SendTaskSuccess"},
        # A pipeline's signal ends its waiting step.
        "ApiFunction": {"states:SendTaskSuccess"},
        # Keeps the tokens of held tasks alive; the submitter answers them once admitted.
        "DispatcherFunction": {"states:SendTaskHeartbeat"},
    }


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


# What each function calls, from its code (and recorded by the local stack, which refuses the rest):
# a grant added to the template fails here until it is reviewed and added.
POLICY_TEMPLATE_ACTIONS = {
    "SQSSendMessagePolicy": {"sqs:SendMessage"},
    "SNSPublishMessagePolicy": {"sns:Publish"},
    "LambdaInvokePolicy": {"lambda:InvokeFunction"},
    "StepFunctionsExecutionPolicy": {"states:StartExecution"},
    "AWSSecretsManagerGetSecretValuePolicy": {"secretsmanager:GetSecretValue"},
}
ITEMS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
OUTPUTS = {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"}
SECRET = {"secretsmanager:GetSecretValue"}
# A task's end gives its slot back and nudges the dispatcher (DispatchQueue).
NUDGE = {"sqs:SendMessage"}
STREAM = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
EXPECTED_ACTIONS = {
    "ApiFunction": ITEMS
    | {"dynamodb:DeleteItem", "dynamodb:Query", "s3:GetObject", "s3:PutObject", "states:StartExecution"}
    | {"dynamodb:Scan"}  # an operator's bulk operation counts the jobs its filter matches
    | {"dynamodb:BatchWriteItem"}  # a retry's task.retried events
    | {"sqs:SendMessage", "sns:CreatePlatformEndpoint", "sns:DeleteEndpoint"}
    | {"sns:SetEndpointAttributes", "sns:GetEndpointAttributes"}
    | {"states:SendTaskSuccess"}  # a pipeline's signal answers its waiting step
    | SECRET,  # the page cursors' key (CursorKeySecret), not the provider secret
    # sqs:SendMessage: a pipeline task's token handed on to the next link of its chain (SubmitQueue).
    "WebhookFunction": ITEMS
    | {"dynamodb:DeleteItem", "states:SendTaskSuccess", "sqs:SendMessage"}
    | OUTPUTS
    | SECRET,
    # No provider secret: it reads the catalog only, and talks to no provider.
    # A retry's run reads which tasks are to run again.
    "PrepareJobFunction": ITEMS
    | {"dynamodb:BatchWriteItem", "dynamodb:Query", "s3:GetObject", "s3:PutObject"}
    | NUDGE,
    # Between two rounds of a pipeline: reads its tasks, writes those it sizes, the next manifest.
    "PlanTasksFunction": ITEMS
    | {"dynamodb:BatchWriteItem", "dynamodb:Query", "s3:GetObject", "s3:PutObject"}
    | NUDGE,
    "PollTaskFunction": ITEMS | OUTPUTS | SECRET | NUDGE,
    "FailTaskFunction": ITEMS | NUDGE,
    "SettleJobFunction": ITEMS | {"dynamodb:Query", "sns:Publish"} | SECRET | NUDGE,
    "SubmitterFunction": ITEMS
    | {"dynamodb:Query", "sqs:ChangeMessageVisibility", "sqs:SendMessage"}
    | {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
    | OUTPUTS
    | SECRET,
    "SubmitDeadLetterFunction": ITEMS | {"states:SendTaskSuccess"} | NUDGE,
    # An operator's bulk operation: a page of the table's jobs, each retried or cancelled.
    "BulkFunction": ITEMS
    | {"dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:Scan", "s3:GetObject"}
    | {"states:StartExecution", "sqs:SendMessage"},
    # Held tasks' slots: reads the held and the slots taken (Query), hands admitted tokens to the
    # SubmitQueue and nudges itself when a blocked pool opens, keeps parked tokens alive.
    "DispatcherFunction": ITEMS | {"dynamodb:Query", "sqs:SendMessage", "states:SendTaskHeartbeat"},
    # A pipeline step that answers at once: a provider called synchronously, or an app function.
    "RunnerFunction": ITEMS
    | {"lambda:InvokeFunction", "sqs:ChangeMessageVisibility", "sqs:SendMessage"}
    | {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
    | OUTPUTS
    | SECRET,
    "SweeperFunction": ITEMS
    | {"dynamodb:Query", "states:StartExecution", "states:SendTaskSuccess", "states:SendTaskHeartbeat"}
    | {"sqs:SendMessage"}
    | OUTPUTS
    | SECRET,
    "NotifierFunction": {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}
    | {"sns:Publish", "sns:GetEndpointAttributes", "sns:DeleteEndpoint"},
    # The live channel: its connection items (both written and deleted by BatchWriteItem).
    "LiveSocketFunction": {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"},
    # Reads the jobs table's stream (its mapping does, with this role), numbers and keeps each
    # change, finds the owner's connections, posts to them and closes those gone or expired.
    "LiveFunction": STREAM
    | {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:Query"}
    | {"execute-api:ManageConnections"},
    # The web console's static files: it calls no service, it only writes its own logs.
    "ConsoleFunction": {"logs:CreateLogStream", "logs:PutLogEvents"},
}


def granted_actions(logical_id: str) -> set[str]:
    granted: set[str] = set()
    for policy in policies(logical_id):
        if "Statement" in policy:
            for statement in policy["Statement"]:
                granted.update(as_list(statement["Action"]))
        else:
            (name,) = policy
            granted |= POLICY_TEMPLATE_ACTIONS[name]
    return granted


def test_every_function_is_granted_exactly_what_it_calls() -> None:
    functions = {
        logical_id
        for logical_id, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions == set(EXPECTED_ACTIONS)
    for logical_id in sorted(functions):
        assert granted_actions(logical_id) == EXPECTED_ACTIONS[logical_id], logical_id


def _resource_names(statement: dict[str, Any]) -> list[str]:
    """Each resource as written: "*", "JobsTable.Arn" (GetAtt) or the Sub string."""
    names = []
    for resource in as_list(statement["Resource"]):
        if isinstance(resource, dict):
            ((tag, value),) = resource.items()
            names.append(value if tag in ("!GetAtt", "!Sub") else f"{tag} {value}")
        else:
            names.append(resource)
    return names


def test_dynamodb_grants_name_the_tables_and_indexes_they_use() -> None:
    for logical_id, statement in statements():
        actions = as_list(statement["Action"])
        if not any(a.startswith("dynamodb:") for a in actions):
            continue
        for name in _resource_names(statement):
            if name.endswith("/index/gsi1") or name.endswith("/index/gsi2"):
                assert actions == ["dynamodb:Query"], (logical_id, name)
                assert name.startswith("${JobsTable.Arn}/index/"), (logical_id, name)
            elif name == "JobsTable.StreamArn":  # the live channel's source, read-only
                assert set(actions) <= STREAM, (logical_id, actions)
            else:
                assert name in ("JobsTable.Arn", "IdempotencyTable.Arn"), (logical_id, name)


def test_s3_grants_name_the_prefixes_they_use_never_the_whole_bucket() -> None:
    prefixes = ("outputs/", "plans/", "manifests/", "mapruns/")
    for logical_id, statement in statements():
        if not any(a.startswith("s3:") for a in as_list(statement["Action"])):
            continue
        for name in _resource_names(statement):
            assert name.startswith("${OutputBucket.Arn}/"), (logical_id, name)
            assert name.removeprefix("${OutputBucket.Arn}/").startswith(prefixes), (logical_id, name)


def test_the_alarm_topic_key_lets_cloudwatch_alarms_publish() -> None:
    resources = template()["Resources"]
    key_ref = resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    # The AWS-managed alias/aws/sns key cannot let CloudWatch in: a customer managed key can.
    assert key_ref == {"!Ref": "AlarmTopicKey"}
    key = resources["AlarmTopicKey"]
    assert key["Type"] == "AWS::KMS::Key"
    statements_ = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements_ if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert set(as_list(cloudwatch[0]["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    administrators = [s for s in statements_ if "AWS" in s["Principal"]]
    assert len(administrators) == 1
    assert administrators[0]["Action"] == "kms:*"
    assert key["Properties"]["EnableKeyRotation"] is True


def test_only_the_runner_invokes_app_functions_and_only_the_listed_ones() -> None:
    # GIVEN every grant of lambda:InvokeFunction to a function
    invokers = {
        logical_id: statement
        for logical_id, statement in statements()
        if "lambda:InvokeFunction" in as_list(statement["Action"])
    }
    # THEN the runner alone has one, on exactly the ARNs the deployment lists
    assert set(invokers) == {"RunnerFunction"}
    assert invokers["RunnerFunction"]["Resource"] == {"!Ref": "AppFunctionArns"}
    assert as_list(invokers["RunnerFunction"]["Action"]) == ["lambda:InvokeFunction"]
    # AND a deployment that lists none is granted none (IAM refuses a statement without resources)
    (conditional,) = [
        p["!If"]
        for p in template()["Resources"]["RunnerFunction"]["Properties"]["Policies"]
        if isinstance(p, dict) and "!If" in p
    ]
    assert conditional[0] == "HasAppFunctions"
    assert conditional[2] == {"!Ref": "AWS::NoValue"}
    assert template()["Conditions"]["HasAppFunctions"] == {
        "!Not": [{"!Equals": [{"!Join": ["", {"!Ref": "AppFunctionArns"}]}, ""]}]
    }
