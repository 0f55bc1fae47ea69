"""SNS: the job events topic and mobile push endpoints."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from genjobs.dal import aws
from genjobs.models.messages import JobEvent
from genjobs.models.persistence import EndpointGone

# SNS keeps one endpoint per token and application; creating it again with other attributes (another
# user's CustomUserData) fails with this message, which names the existing endpoint.
_EXISTING_ENDPOINT = re.compile(r"Endpoint (arn:\S+) already exists with the same [Tt]oken")


class Notifications:
    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    @property
    def _sns(self) -> Any:
        return aws.client("sns")

    def publish_job_event(self, event: JobEvent) -> str:
        response = self._sns.publish(
            TopicArn=self.topic_arn,
            Message=event.model_dump_json(by_alias=True),
            MessageAttributes={"eventType": {"DataType": "String", "StringValue": event.type}},
        )
        return str(response["MessageId"])

    def claim_endpoint(self, platform_application_arn: str, token: str, user_id: str) -> str:
        """The push endpoint of `token`, created for `user_id` or taken over from its previous holder
        (a phone that changed hands) and enabled again (a token registered anew is valid)."""
        try:
            response = self._sns.create_platform_endpoint(
                PlatformApplicationArn=platform_application_arn, Token=token, CustomUserData=user_id
            )
            return str(response["EndpointArn"])
        except ClientError as error:
            existing = error.response.get("Error", {}).get("Code") == "InvalidParameter" and (
                _EXISTING_ENDPOINT.search(error.response.get("Error", {}).get("Message", ""))
            )
            if not existing:
                raise
            endpoint_arn = existing.group(1)
        self._sns.set_endpoint_attributes(
            EndpointArn=endpoint_arn,
            Attributes={"CustomUserData": user_id, "Token": token, "Enabled": "true"},
        )
        return endpoint_arn

    def delete_endpoint(self, endpoint_arn: str) -> None:
        self._sns.delete_endpoint(EndpointArn=endpoint_arn)

    def push(self, endpoint_arn: str, message: dict[str, str]) -> str:
        """Sends a platform-specific push; raises EndpointGone for disabled or deleted endpoints."""
        try:
            response = self._sns.publish(
                TargetArn=endpoint_arn, Message=json.dumps(message), MessageStructure="json"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {
                "EndpointDisabled",
                "NotFound",
                "InvalidParameter",
            }:
                raise EndpointGone(endpoint_arn) from error
            raise
        return str(response["MessageId"])
