"""AWS usage as counted by the meter, per image, priced at list prices."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from bench.prices import PRICES

# Free on AWS (Step Functions API calls are not billed; transitions are) or not a request at all.
_FREE = {"stepfunctions", "awslambda"}


@dataclass(frozen=True)
class Usage:
    state_transitions: float = 0.0
    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0
    dynamodb_read_units: float = 0.0
    dynamodb_write_units: float = 0.0
    sqs_requests: float = 0.0
    sns_publishes: float = 0.0
    api_requests: float = 0.0
    s3_writes: float = 0.0
    s3_reads: float = 0.0
    secrets_calls: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __sub__(self, other: Usage) -> Usage:
        return self + other.scaled(-1)

    def scaled(self, factor: float) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def costs(self) -> dict[str, float]:
        """Dollars per unit of this usage (e.g. per image), per line item."""
        return {name: value * PRICES[name] for name, value in asdict(self).items()}

    def cost(self) -> float:
        return sum(self.costs().values())

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def usage_of(snapshot: dict[str, Any]) -> Usage:
    """A meter snapshot (genjobs_local.metering.Meter.snapshot) as billable usage."""
    requests: dict[str, int] = snapshot["requests"]

    def count(service: str, *, exclude: tuple[str, ...] = ()) -> int:
        return sum(
            n
            for key, n in requests.items()
            if key.split(":", 1)[0] == service and key.split(":", 1)[1] not in exclude
        )

    s3_writes = sum(
        n for k, n in requests.items() if k.startswith("s3:") and k[3:].startswith(("PUT", "POST"))
    )
    s3_reads = sum(
        n for k, n in requests.items() if k.startswith("s3:") and k[3:].startswith(("GET", "HEAD"))
    )
    return Usage(
        state_transitions=snapshot["state_transitions"],
        lambda_requests=sum(snapshot["lambda_invocations"].values()),
        lambda_gb_seconds=snapshot["lambda_gb_seconds"],
        dynamodb_read_units=snapshot["dynamodb_read_units"],
        dynamodb_write_units=snapshot["dynamodb_write_units"],
        # Empty receives of the local pollers are not Lambda's long polls: see the report's fixed costs.
        sqs_requests=count("sqs", exclude=("ReceiveMessage(empty)",)),
        sns_publishes=count("sns", exclude=("CreatePlatformEndpoint",)),
        api_requests=sum(snapshot["api_requests"].values()),
        s3_writes=s3_writes,
        s3_reads=s3_reads,
        secrets_calls=count("secretsmanager"),
    )


def free_requests(snapshot: dict[str, Any]) -> dict[str, int]:
    return {k: n for k, n in snapshot["requests"].items() if k.split(":", 1)[0] in _FREE}
