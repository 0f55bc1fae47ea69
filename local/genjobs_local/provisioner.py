"""Create every resource of the translated template in moto, in dependency order, through boto3.

A small provisioner of our own instead of moto's CloudFormation: moto's skips secrets and SNS
subscriptions, ignores DefinitionSubstitutions, needs the code in S3 and knows neither Scheduler
nor API Gateway v2 in templates. Here each resource type is a few API calls, and a type that the
template gains but this file does not know fails loudly instead of being skipped.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3

from genjobs_local.intrinsics import ACCOUNT_ID, REGION, Resolver, references

# GenerateSecretString's options that are GetRandomPassword's parameters (same names).
_PASSWORD_OPTIONS = {
    "PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation", "ExcludeUppercase",
    "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType",
}  # fmt: skip


@dataclass
class Created:
    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


def placeholder_zip() -> bytes:
    # Function code runs in-process from CodeUri; moto only needs a valid archive to register it.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "genjobs local: code runs in-process from CodeUri\n")
    return buffer.getvalue()


def _tags(props: dict[str, Any]) -> list[dict[str, str]]:
    tags = props.get("Tags") or []
    return [{"Key": k, "Value": v} for k, v in tags.items()] if isinstance(tags, dict) else tags


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


class Provisioner:
    def __init__(
        self, cfn: dict[str, Any], parameters: dict[str, Any], endpoint_url: str, stack_name: str
    ) -> None:
        self.cfn = cfn
        self.stack_name = stack_name
        self.created: dict[str, Created] = {}
        self.properties: dict[str, dict[str, Any]] = {}  # resolved, per created logical id
        self.resolver = Resolver(stack_name, parameters, cfn.get("Conditions", {}), self._ref, self._get_att)
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        # One client per service: creating boto3 clients is the slow part of a start.
        self._client: Callable[[str], Any] = functools.cache(
            lambda service: session.client(service, endpoint_url=endpoint_url)
        )
        self._zip = placeholder_zip()

    # ---- resolution -------------------------------------------------------------------------
    def _ref(self, logical_id: str) -> Any:
        if logical_id not in self.created:
            raise KeyError(f"Ref to {logical_id}, which is not (yet) created")
        return self.created[logical_id].physical_id

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        attributes = self.created[logical_id].attributes
        if attribute not in attributes:
            raise KeyError(f"GetAtt {logical_id}.{attribute} is not known to the local provisioner")
        return attributes[attribute]

    def creation_order(self) -> list[str]:
        resources: dict[str, Any] = self.cfn["Resources"]
        deps: dict[str, set[str]] = {}
        for logical_id, resource in resources.items():
            depends_on = resource.get("DependsOn", [])
            wanted = references(resource.get("Properties", {})) | set(
                [depends_on] if isinstance(depends_on, str) else depends_on
            )
            deps[logical_id] = {d for d in wanted if d in resources and d != logical_id}
        order: list[str] = []
        pending = dict(deps)
        while pending:
            ready = sorted(r for r, d in pending.items() if d <= set(order))
            if not ready:
                raise ValueError(f"circular references between {sorted(pending)}")
            order += ready
            for r in ready:
                del pending[r]
        return order

    def deploy(self) -> dict[str, Created]:
        resources = self.cfn["Resources"]
        for logical_id in self.creation_order():
            resource = resources[logical_id]
            if "Condition" in resource and not self.resolver.condition(resource["Condition"]):
                continue
            creator = self._CREATORS.get(resource["Type"])
            if creator is None:
                raise NotImplementedError(f"{logical_id}: no local provisioning for {resource['Type']}")
            props = self.resolver.resolve(resource.get("Properties", {}))
            self.created[logical_id] = creator(self, logical_id, props)
            self.properties[logical_id] = props
        return self.created

    def outputs(self) -> dict[str, Any]:
        return {name: self.resolver.resolve(o["Value"]) for name, o in self.cfn.get("Outputs", {}).items()}

    def _name(self, logical_id: str, max_length: int = 64) -> str:
        """Name CloudFormation would generate for an unnamed resource (without the random suffix)."""
        return f"{self.stack_name}-{logical_id}"[:max_length]

    # ---- one creator per resource type ---------------------------------------------------------
    def _iam_role(self, logical_id: str, p: dict[str, Any]) -> Created:
        iam = self._client("iam")
        name = p.get("RoleName") or self._name(logical_id)
        role = iam.create_role(
            RoleName=name,
            Path=p.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]),
        )["Role"]
        for policy in p.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        for policy_arn in p.get("ManagedPolicyArns", []):
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _log_group(self, logical_id: str, p: dict[str, Any]) -> Created:
        logs = self._client("logs")
        name = p.get("LogGroupName") or self._name(logical_id)
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        return Created(name, {"Arn": _arn("logs", f"log-group:{name}:*")})

    def _dynamodb_table(self, logical_id: str, p: dict[str, Any]) -> Created:
        ddb = self._client("dynamodb")
        name = p.get("TableName") or self._name(logical_id)
        args: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": p["AttributeDefinitions"],
            "KeySchema": p["KeySchema"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        for key in (
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "ProvisionedThroughput",
            "StreamSpecification",
        ):
            if key in p:
                args[key] = p[key]
        if "StreamSpecification" in p:  # CloudFormation enables a stream by giving its view type
            args["StreamSpecification"] = {"StreamEnabled": True} | p["StreamSpecification"]
        if "SSESpecification" in p:  # CloudFormation spells it SSEEnabled, the API Enabled
            args["SSESpecification"] = {"Enabled": bool(p["SSESpecification"].get("SSEEnabled"))}
        table = ddb.create_table(**args)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        pitr = p.get("PointInTimeRecoverySpecification")
        if pitr:
            ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=pitr)
        return Created(name, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")})

    def _s3_bucket(self, logical_id: str, p: dict[str, Any]) -> Created:
        s3 = self._client("s3")
        name = p.get("BucketName") or self._name(logical_id, 63).lower()
        s3.create_bucket(Bucket=name)
        if "PublicAccessBlockConfiguration" in p:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in p:
            # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault.
            rules = [
                {("Apply" + k if k == "ServerSideEncryptionByDefault" else k): v for k, v in rule.items()}
                for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "OwnershipControls" in p:
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
        if "LifecycleConfiguration" in p:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name,
                LifecycleConfiguration={
                    "Rules": [_lifecycle_rule(r) for r in p["LifecycleConfiguration"]["Rules"]]
                },
            )
        return Created(
            name,
            {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
            },
        )

    def _s3_bucket_policy(self, logical_id: str, p: dict[str, Any]) -> Created:
        # Applied as declared; moto_adjustments keeps its conditional (TLS-only) Deny from denying all.
        self._client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(p["PolicyDocument"]))
        return Created(p["Bucket"])

    def _secret(self, logical_id: str, p: dict[str, Any]) -> Created:
        args = {"Name": p.get("Name") or self._name(logical_id), "Description": p.get("Description", "")}
        if "SecretString" in p:
            args["SecretString"] = p["SecretString"]
        elif "GenerateSecretString" in p:  # as CloudFormation does: a random password of these options
            options = {k: v for k, v in p["GenerateSecretString"].items() if k in _PASSWORD_OPTIONS}
            args["SecretString"] = self._client("secretsmanager").get_random_password(**options)[
                "RandomPassword"
            ]
        arn = self._client("secretsmanager").create_secret(**args)["ARN"]
        return Created(arn, {"Id": arn})

    def _sqs_queue(self, logical_id: str, p: dict[str, Any]) -> Created:
        name = p.get("QueueName") or self._name(logical_id, 80)
        attribute_names = (
            "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout", "SqsManagedSseEnabled", "KmsMasterKeyId", "FifoQueue",
            "ContentBasedDeduplication",
        )  # fmt: skip
        attributes = {
            k: str(p[k]).lower() if isinstance(p[k], bool) else str(p[k]) for k in attribute_names if k in p
        }
        if "RedrivePolicy" in p:
            attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        url = self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = _arn("sqs", name)
        return Created(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _sqs_queue_policy(self, logical_id: str, p: dict[str, Any]) -> Created:
        for url in p["Queues"]:
            self._client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
            )
        return Created(self._name(logical_id))

    def _cloudwatch_alarm(self, logical_id: str, p: dict[str, Any]) -> Created:
        # Created for fidelity (operators can list them); nothing evaluates alarms locally.
        name = p.get("AlarmName") or self._name(logical_id, 255)
        keys = (
            "AlarmDescription",
            "Namespace",
            "MetricName",
            "Dimensions",
            "Statistic",
            "Period",
            "EvaluationPeriods",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "AlarmActions",
        )
        args = {k: p[k] for k in keys if k in p}
        for k in ("Period", "EvaluationPeriods"):
            if k in args:
                args[k] = int(args[k])
        if "Threshold" in args:
            args["Threshold"] = float(args["Threshold"])
        self._client("cloudwatch").put_metric_alarm(AlarmName=name, **args)
        return Created(name, {"Arn": _arn("cloudwatch", f"alarm:{name}")})

    def _kms_key(self, logical_id: str, p: dict[str, Any]) -> Created:
        args: dict[str, Any] = {"Policy": json.dumps(p["KeyPolicy"])} if "KeyPolicy" in p else {}
        if "Description" in p:
            args["Description"] = p["Description"]
        key = self._client("kms").create_key(**args)["KeyMetadata"]
        if p.get("EnableKeyRotation"):
            self._client("kms").enable_key_rotation(KeyId=key["KeyId"])
        return Created(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})

    def _sns_topic(self, logical_id: str, p: dict[str, Any]) -> Created:
        name = p.get("TopicName") or self._name(logical_id, 256)
        attributes = {k: str(p[k]) for k in ("KmsMasterKeyId", "DisplayName", "FifoTopic") if k in p}
        arn = self._client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return Created(arn, {"TopicArn": arn, "TopicName": name})

    def _sns_subscription(self, logical_id: str, p: dict[str, Any]) -> Created:
        attribute_names = (
            "RawMessageDelivery",
            "FilterPolicy",
            "FilterPolicyScope",
            "RedrivePolicy",
            "DeliveryPolicy",
        )
        attributes = {
            k: (
                str(p[k]).lower()
                if isinstance(p[k], bool)
                else p[k]
                if isinstance(p[k], str)
                else json.dumps(p[k])
            )
            for k in attribute_names
            if k in p
        }
        arn = self._client("sns").subscribe(
            TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"], Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]  # fmt: skip
        return Created(arn)

    def _lambda_layer(self, logical_id: str, p: dict[str, Any]) -> Created:
        # Registered so the functions' Layers resolve; its content is the venv, already importable.
        layer = self._client("lambda").publish_layer_version(
            LayerName=p.get("LayerName") or self._name(logical_id),
            Description=p.get("Description", ""),
            Content={"ZipFile": self._zip},
            CompatibleRuntimes=p.get("CompatibleRuntimes", []),
            CompatibleArchitectures=p.get("CompatibleArchitectures", []),
        )
        return Created(layer["LayerVersionArn"], {"LayerVersionArn": layer["LayerVersionArn"]})

    def _lambda_function(self, logical_id: str, p: dict[str, Any]) -> Created:
        args: dict[str, Any] = {
            "FunctionName": p.get("FunctionName") or self._name(logical_id),
            "Role": p["Role"],
            "Code": {"ZipFile": self._zip},
        }
        optional = (
            "Runtime", "Handler", "Description", "Timeout", "MemorySize", "Environment", "TracingConfig",
            "Architectures", "LoggingConfig", "Layers", "DeadLetterConfig", "EphemeralStorage",
        )  # fmt: skip
        args |= {k: p[k] for k in optional if k in p}
        if "Tags" in p:
            args["Tags"] = {t["Key"]: t["Value"] for t in _tags(p)}
        fn = self._client("lambda").create_function(**args)
        return Created(fn["FunctionName"], {"Arn": fn["FunctionArn"]})

    def _lambda_permission(self, logical_id: str, p: dict[str, Any]) -> Created:
        args = {
            "FunctionName": p["FunctionName"],
            "StatementId": logical_id,
            "Action": p["Action"],
            "Principal": p["Principal"],
        }
        args |= {k: p[k] for k in ("SourceArn", "SourceAccount") if k in p}
        self._client("lambda").add_permission(**args)
        return Created(logical_id)

    def _event_source_mapping(self, logical_id: str, p: dict[str, Any]) -> Created:
        optional = (
            "BatchSize", "Enabled", "FunctionResponseTypes", "MaximumBatchingWindowInSeconds",
            "ScalingConfig", "FilterCriteria", "StartingPosition",
        )  # fmt: skip
        args = {"EventSourceArn": p["EventSourceArn"], "FunctionName": p["FunctionName"]} | {
            k: p[k] for k in optional if k in p
        }
        if "ScalingConfig" in args:
            args["ScalingConfig"] = {k: int(v) for k, v in args["ScalingConfig"].items()}
        mapping = self._client("lambda").create_event_source_mapping(**args)
        return Created(mapping["UUID"], {"Id": mapping["UUID"]})

    def _state_machine(self, logical_id: str, p: dict[str, Any]) -> Created:
        definition = p["DefinitionString"] if "DefinitionString" in p else json.dumps(p["Definition"])
        # What CloudFormation does with DefinitionSubstitutions: plain ${Name} replacement.
        for key, value in p.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = p.get("StateMachineName") or self._name(logical_id, 80)
        args: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": p["RoleArn"],
            "type": p.get("StateMachineType", "STANDARD"),
        }
        if "LoggingConfiguration" in p:
            args["loggingConfiguration"] = _lower_first(p["LoggingConfiguration"])
        if "TracingConfiguration" in p:
            args["tracingConfiguration"] = _lower_first(p["TracingConfiguration"])
        if "Tags" in p:
            args["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in _tags(p)]
        arn = self._client("stepfunctions").create_state_machine(**args)["stateMachineArn"]
        return Created(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": arn})

    def _schedule(self, logical_id: str, p: dict[str, Any]) -> Created:
        name = p.get("Name") or self._name(logical_id)
        args = {
            "Name": name,
            "ScheduleExpression": p["ScheduleExpression"],
            "FlexibleTimeWindow": p["FlexibleTimeWindow"],
            "Target": p["Target"],
        }
        args |= {
            k: p[k] for k in ("Description", "GroupName", "State", "ScheduleExpressionTimezone") if k in p
        }
        arn = self._client("scheduler").create_schedule(**args)["ScheduleArn"]
        return Created(name, {"Arn": arn})

    def _recorded(self, logical_id: str, p: dict[str, Any]) -> Created:
        """A resource nothing local acts on (X-Ray keeps no traces here): its properties are kept."""
        return Created(self._name(logical_id))

    def _http_api(self, logical_id: str, p: dict[str, Any]) -> Created:
        body = p.get("Body", {})
        name = p.get("Name") or body.get("info", {}).get("title") or self._name(logical_id)
        api = self._client("apigatewayv2").create_api(
            Name=str(name), ProtocolType=p.get("ProtocolType", "HTTP")
        )
        api_id = api["ApiId"]
        # Routes, integrations and authorizers live in the OpenAPI Body; the HTTP front reads it.
        return Created(api_id, {"ApiId": api_id, "ApiEndpoint": api["ApiEndpoint"], "Body": body})

    def _http_api_stage(self, logical_id: str, p: dict[str, Any]) -> Created:
        stage = self._client("apigatewayv2").create_stage(
            ApiId=p["ApiId"], StageName=p["StageName"], AutoDeploy=bool(p.get("AutoDeploy"))
        )
        return Created(stage["StageName"])

    def _api_integration(self, logical_id: str, p: dict[str, Any]) -> Created:
        args = {
            k: p[k] for k in ("ApiId", "IntegrationType", "IntegrationUri", "IntegrationMethod") if k in p
        }
        return Created(self._client("apigatewayv2").create_integration(**args)["IntegrationId"])

    def _api_route(self, logical_id: str, p: dict[str, Any]) -> Created:
        optional = ("AuthorizationType", "OperationName", "Target", "RouteResponseSelectionExpression")
        args = {"ApiId": p["ApiId"], "RouteKey": p["RouteKey"]} | {k: p[k] for k in optional if k in p}
        return Created(self._client("apigatewayv2").create_route(**args)["RouteId"])

    def _api_route_response(self, logical_id: str, p: dict[str, Any]) -> Created:
        answer = self._client("apigatewayv2").create_route_response(
            ApiId=p["ApiId"], RouteId=p["RouteId"], RouteResponseKey=p["RouteResponseKey"]
        )
        return Created(answer["RouteResponseId"])

    _CREATORS: ClassVar[dict[str, Callable[[Provisioner, str, dict[str, Any]], Created]]] = {
        "AWS::IAM::Role": _iam_role,
        "AWS::Logs::LogGroup": _log_group,
        "AWS::DynamoDB::Table": _dynamodb_table,
        "AWS::S3::Bucket": _s3_bucket,
        "AWS::S3::BucketPolicy": _s3_bucket_policy,
        "AWS::SecretsManager::Secret": _secret,
        "AWS::SQS::Queue": _sqs_queue,
        "AWS::SQS::QueuePolicy": _sqs_queue_policy,
        "AWS::KMS::Key": _kms_key,
        "AWS::SNS::Topic": _sns_topic,
        "AWS::CloudWatch::Alarm": _cloudwatch_alarm,
        "AWS::SNS::Subscription": _sns_subscription,
        "AWS::Lambda::LayerVersion": _lambda_layer,
        "AWS::Lambda::Function": _lambda_function,
        "AWS::Lambda::Permission": _lambda_permission,
        "AWS::Lambda::EventSourceMapping": _event_source_mapping,
        "AWS::StepFunctions::StateMachine": _state_machine,
        "AWS::Scheduler::Schedule": _schedule,
        "AWS::ApiGatewayV2::Api": _http_api,
        "AWS::ApiGatewayV2::Stage": _http_api_stage,
        # A WebSocket API's routes (the local WebSocket front, websocket_api, serves them).
        "AWS::ApiGatewayV2::Integration": _api_integration,
        "AWS::ApiGatewayV2::Route": _api_route,
        "AWS::ApiGatewayV2::RouteResponse": _api_route_response,
        "AWS::XRay::SamplingRule": _recorded,
    }


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's flat lifecycle rule -> the S3 API's nested one (the subset templates use)."""
    api_rule: dict[str, Any] = {
        "ID": rule.get("Id", ""),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        api_rule["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    return api_rule


def _lower_first(value: Any) -> Any:
    """CloudFormation PascalCase keys -> Step Functions API camelCase keys."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_first(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_first(v) for v in value]
    return value
