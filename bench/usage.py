"""AWS usage as counted by the meter, per image, priced at list prices."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

from bench.prices import ARM64_GB_SECOND, PRICES, RUNTIME_INIT_MS, X86_GB_SECOND

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
# Free on AWS (Step Functions API calls are not billed; transitions are) or not a request at all.
_FREE = {"stepfunctions", "awslambda"}
LOG_GB = 1024**3
# X-Ray's default rule when the template has none: the first request each second, then 5%.
DEFAULT_SAMPLING = {"ReservoirSize": 1, "FixedRate": 0.05, "source": "X-Ray's default rule"}


@dataclass(frozen=True)
class Usage:
    state_transitions: float = 0.0  # states entered + Retry attempts
    child_starts: float = 0.0
    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0  # arm64
    lambda_gb_seconds_x86: float = 0.0
    lambda_init_gb_seconds: float = 0.0
    dynamodb_read_units: float = 0.0
    dynamodb_write_units: float = 0.0
    sqs_requests: float = 0.0
    sns_publishes: float = 0.0
    api_requests: float = 0.0
    s3_writes: float = 0.0
    s3_reads: float = 0.0
    secrets_calls: float = 0.0
    log_gb: float = 0.0
    xray_traces: float = 0.0

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

    @classmethod
    def of(cls, values: dict[str, float]) -> Usage:
        """From a stored dict (fields a stored result lacks are 0)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


# ----------------------------------------------------------------------------- the template
@cache
def _template() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse  # reads the intrinsic tags (!Ref, !Sub...)

    return dict(yaml_parse(TEMPLATE.read_text()))


def function_config() -> dict[str, dict[str, Any]]:
    """Each function's memory, architecture and handler, from the template (Globals applied)."""
    template = _template()
    defaults = template.get("Globals", {}).get("Function", {})
    out = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            props = {**defaults, **resource.get("Properties", {})}
            out[logical_id] = {
                "memory_mb": int(props.get("MemorySize", 128)),
                "architecture": (props.get("Architectures") or ["x86_64"])[0],
                "handler": str(props.get("Handler", "")),
            }
    return out


def sampling_rule() -> dict[str, Any]:
    """The X-Ray sampling the stack is deployed with: its AWS::XRay::SamplingRule, or the default."""
    for logical_id, resource in _template()["Resources"].items():
        if resource.get("Type") == "AWS::XRay::SamplingRule":
            rule = resource.get("Properties", {}).get("SamplingRule", {})
            return {
                "ReservoirSize": rule.get("ReservoirSize", 1),
                "FixedRate": float(rule.get("FixedRate", 0.05)),
                "source": f"{logical_id} in template.yaml",
            }
    return DEFAULT_SAMPLING


# Lambda's own sampling when a function's tracing is Active: a request a second, then 5%; no rule changes it.
LAMBDA_ACTIVE_RATE = 0.05


def trace_rates() -> dict[str, float]:
    """Of the trace roots the meter counts by trigger, the share X-Ray records, by the template:
    executions at the sampling rule when the state machine traces; an HTTP API request at Lambda's
    rate when the function its route reaches is Active (keyed "api:<first path segment>"); SQS- and
    schedule-triggered invocations at Lambda's rate when the functions' tracing is Active (Globals)."""
    template = _template()
    active = str(template.get("Globals", {}).get("Function", {}).get("Tracing", "PassThrough")) == "Active"
    rates = {"sqs": LAMBDA_ACTIVE_RATE if active else 0.0, "schedule": LAMBDA_ACTIVE_RATE if active else 0.0}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::StateMachine":
            traced = bool((props.get("Tracing") or {}).get("Enabled"))
            rates["execution"] = float(sampling_rule()["FixedRate"]) if traced else 0.0
        if resource.get("Type") == "AWS::Serverless::Function":
            function_active = str(props.get("Tracing", "Active" if active else "PassThrough")) == "Active"
            for event in (props.get("Events") or {}).values():
                if event.get("Type") == "HttpApi":
                    segment = str(event["Properties"]["Path"]).strip("/").split("/")[0]
                    rates[f"api:{segment}"] = LAMBDA_ACTIVE_RATE if function_active else 0.0
    return rates


def xray_traces(snapshot: dict[str, Any]) -> float:
    """Traces recorded at volume (the reservoir, a trace a second, is a fixed cost: see the report)."""
    rates = trace_rates()
    roots: dict[str, int] = snapshot.get("trace_roots", {})
    traces = sum(n * rates.get(trigger, 0.0) for trigger, n in roots.items() if trigger != "api")
    api: dict[str, int] = snapshot.get("api_requests", {})
    return traces + sum(n * rates.get(f"api:{segment}", 0.0) for segment, n in api.items())


def sqs_queues_polled() -> int:
    """Queues a Lambda event source mapping long-polls (each costs its idle receives)."""
    return sum(
        1
        for r in _template()["Resources"].values()
        if r.get("Type") == "AWS::Serverless::Function"
        for e in (r.get("Properties", {}).get("Events") or {}).values()
        if e.get("Type") == "SQS"
    )


# ----------------------------------------------------------------------------- a snapshot as usage
def init_gb_seconds(
    snapshot: dict[str, Any], functions: dict[str, dict[str, Any]], import_ms: dict[str, float] | None
) -> float:
    """INIT of the execution environments AWS would create, in arm64-priced GB-s.

    Environments per function: the most invocations of it running at once in the run (each one
    needs an environment of its own; a job's burst is assumed to find none warm). INIT per
    environment: the runtime's own (RUNTIME_INIT_MS) plus the handler module's import time measured
    by the coldstart scenario (None when it has not run: INIT is then left at 0)."""
    if not import_ms:
        return 0.0
    total = 0.0
    for function, environments in snapshot.get("lambda_peak_concurrency", {}).items():
        config = functions.get(function)
        if config is None:
            continue
        module = config["handler"].rpartition(".")[0]
        seconds = (RUNTIME_INIT_MS + import_ms.get(module, 0.0)) / 1000
        ratio = X86_GB_SECOND / ARM64_GB_SECOND if config["architecture"] == "x86_64" else 1.0
        total += environments * seconds * config["memory_mb"] / 1024 * ratio
    return total


def usage_of(
    snapshot: dict[str, Any],
    functions: dict[str, dict[str, Any]] | None = None,
    import_ms: dict[str, float] | None = None,
) -> Usage:
    """A meter snapshot (genjobs_local.metering.Meter.snapshot) as billable usage."""
    requests: dict[str, int] = snapshot["requests"]
    functions = functions if functions is not None else function_config()

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
    by_function: dict[str, float] = snapshot.get("lambda_gb_seconds_by") or {}
    x86 = sum(gbs for f, gbs in by_function.items() if functions.get(f, {}).get("architecture") == "x86_64")
    logged = sum(snapshot.get("log_bytes", {}).values()) + snapshot.get("state_machine_log_bytes", 0)
    return Usage(
        state_transitions=snapshot.get("states_entered", snapshot["state_transitions"])
        + snapshot.get("retry_attempts", 0),
        child_starts=snapshot.get("child_starts", 0),
        lambda_requests=sum(snapshot["lambda_invocations"].values()),
        lambda_gb_seconds=snapshot["lambda_gb_seconds"] - x86,
        lambda_gb_seconds_x86=x86,
        lambda_init_gb_seconds=init_gb_seconds(snapshot, functions, import_ms),
        dynamodb_read_units=snapshot["dynamodb_read_units"],
        dynamodb_write_units=snapshot["dynamodb_write_units"],
        # Empty receives of the local pollers are not Lambda's long polls: see the report's fixed costs.
        sqs_requests=snapshot.get("sqs_billed_requests", count("sqs", exclude=("ReceiveMessage(empty)",))),
        sns_publishes=count("sns", exclude=("CreatePlatformEndpoint",)),
        api_requests=sum(snapshot["api_requests"].values()),
        s3_writes=s3_writes,
        s3_reads=s3_reads,
        secrets_calls=count("secretsmanager"),
        log_gb=logged / LOG_GB,
        xray_traces=xray_traces(snapshot),
    )


def fit(runs: list[tuple[int, Usage]]) -> tuple[Usage, Usage] | None:
    """Least squares of jobs' total usage over their sizes: (work per job, work per image)."""
    if len({n for n, _ in runs}) < 2:
        return None
    mean_n = sum(n for n, _ in runs) / len(runs)
    totals = [(n, per_image.scaled(n)) for n, per_image in runs]
    mean_total = sum((t for _, t in totals), Usage()).scaled(1 / len(totals))
    spread = sum((n - mean_n) ** 2 for n, _ in totals)
    slope = sum(((t - mean_total).scaled((n - mean_n) / spread) for n, t in totals), Usage())
    return mean_total - slope.scaled(mean_n), slope


def idle_sqs_cost_per_month() -> float:
    """The fixed cost of the empty receives Lambda's pollers make on every polled queue."""
    from bench.prices import IDLE_RECEIVES_PER_QUEUE_MONTH

    return sqs_queues_polled() * IDLE_RECEIVES_PER_QUEUE_MONTH * PRICES["sqs_requests"]


def xray_reservoir_cost_per_month() -> float:
    """The most the reservoir adds: ReservoirSize traces every second, all month."""
    return math.ceil(sampling_rule()["ReservoirSize"]) * 3600 * 24 * 30 * PRICES["xray_traces"]


def free_requests(snapshot: dict[str, Any]) -> dict[str, int]:
    return {k: n for k, n in snapshot["requests"].items() if k.split(":", 1)[0] in _FREE}
