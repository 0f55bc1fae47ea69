"""boto3 clients, created lazily and cached per process (cold start pays only for what it uses).

boto3 itself is imported on the first client too: with botocore it is the largest part of a
handler's import, and a request that never reaches AWS (a refused body, an unknown route) needs none.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def _config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = _config()
    if service == "s3":
        # Presigned output URLs must be SigV4: S3 refuses SigV2 (boto3's default in us-east-1) on
        # buckets created since mid-2020.
        config = config.merge(Config(signature_version="s3v4"))
    return boto3.client(service, config=config)  # type: ignore[call-overload]


@cache
def dynamodb_resource() -> Any:
    import boto3

    return boto3.resource("dynamodb", config=_config())


@cache
def table(name: str) -> Any:
    """A Table resource, kept: building one builds its resource class, which cost more CPU than the
    DynamoDB call it was built for (a Table's actions only pass its name to the shared client)."""
    return dynamodb_resource().Table(name)


@cache
def management_client(endpoint: str) -> Any:
    """API Gateway's management API of one WebSocket stage (its endpoint is the stage's URL)."""
    import boto3

    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=_config())


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
    dynamodb_resource.cache_clear()
    table.cache_clear()
    management_client.cache_clear()
