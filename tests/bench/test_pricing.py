"""The bench's counting and pricing arithmetic on tiny inputs (the bench itself is not run here)."""

from __future__ import annotations

import pytest
from bench.models import fixed_interval_design, fixed_polls, poll_times, sleeping_lambda_design, split_polling
from bench.report import summary
from bench.usage import Usage, usage_of

pytestmark = [pytest.mark.unit]


def test_cost_is_counts_times_list_prices() -> None:
    # GIVEN 1,000 images' worth of 3 transitions, 2 invocations of 1 GB-s in all, 10 write units each
    usage = Usage(state_transitions=3, lambda_requests=2, lambda_gb_seconds=1, dynamodb_write_units=10)
    # THEN the cost per 1,000 images is the sum of each line at its list price
    expected = 3 * 0.025 + 2 * 0.20 / 1000 + 1000 * 0.0000133334 + 10 * 0.625 / 1000
    assert usage.cost() * 1000 == pytest.approx(expected)


def test_usage_of_a_snapshot_leaves_out_free_calls_and_empty_receives() -> None:
    snapshot = {
        "state_transitions": 5,
        "lambda_invocations": {"A": 2, "B": 1},
        "lambda_gb_seconds": 0.5,
        "dynamodb_read_units": 1.5,
        "dynamodb_write_units": 4,
        "requests": {
            "sqs:SendMessage": 1,
            "sqs:ReceiveMessage": 1,
            "sqs:ReceiveMessage(empty)": 300,
            "stepfunctions:SendTaskSuccess": 1,
            "sns:Publish": 1,
            "s3:PUTObject": 2,
            "s3:GETObject": 1,
            "s3:HEADObject": 1,
            "secretsmanager:GetSecretValue": 1,
        },
        "api_requests": {"jobs": 1, "webhooks": 2},
    }
    usage = usage_of(snapshot)
    assert (usage.lambda_requests, usage.sqs_requests, usage.sns_publishes) == (3, 2, 1)
    assert (usage.api_requests, usage.s3_writes, usage.s3_reads, usage.secrets_calls) == (3, 2, 2, 1)


def test_real_schedule_polls_follow_the_adaptive_interval() -> None:
    # catalog latency 20 s: first check at 20 s, then 15, 30, 60 ... s up to 120 s
    assert poll_times(60, 20) == [20, 35, 65]  # 15 s x2 from the ASL's Retry
    assert poll_times(20, 20) == [20]
    assert len(poll_times(600, 20)) == 8
    assert (fixed_polls(20), fixed_polls(60), fixed_polls(600)) == (4, 12, 120)


def test_polling_splits_into_base_and_per_poll_work() -> None:
    per_poll = Usage(state_transitions=3, lambda_requests=1, dynamodb_write_units=2)
    base = Usage(state_transitions=8, lambda_requests=4, dynamodb_write_units=30)
    split = split_polling(base + per_poll, 1, base + per_poll.scaled(23), 23)
    assert split.per_poll.as_dict() == pytest.approx(per_poll.as_dict())
    assert split.base.as_dict() == pytest.approx(base.as_dict())
    # fixed 5 s polling at 60 s: 12 polls; a sleeping Lambda: one 60 s invocation at 128 MB
    assert fixed_interval_design(split, 60).state_transitions == pytest.approx(8 + 36)
    # the fixed design's loop is Wait, Task, Choice even where our poll is one transition (a Retry)
    retry_split = split_polling(
        base + per_poll.scaled(0) + Usage(state_transitions=1), 1, base + Usage(state_transitions=23), 23
    )
    assert fixed_interval_design(retry_split, 60).state_transitions == pytest.approx(8 + 36)
    sleeper = sleeping_lambda_design(split, 60)
    assert (sleeper.lambda_requests, sleeper.lambda_gb_seconds) == pytest.approx((5, 7.5))


def test_summary_prices_each_mode_and_compares_with_the_alternatives() -> None:
    def run(mode: str, polls: float, transitions: float) -> dict[str, object]:
        per_image = Usage(state_transitions=transitions, lambda_requests=polls + 3).as_dict()
        return {
            "mode": mode,
            "polls_per_image": polls,
            "polls_per_image_real_schedule": polls + 1,
            "per_image": per_image,
        }

    results = {
        f"cost-{lat}": {"webhook": run("webhook", 0, 5), "polling": run("polling", polls, 8 + 3 * polls)}
        for lat, polls in ((20, 1), (60, 5), (600, 23))
    }
    out = summary(results)
    assert out["costs"]["webhook-60"]["per_1000"] == pytest.approx(5 * 0.025 + 3 * 0.0002, abs=1e-4)
    # one poll short of the real schedule at 60 s: priced with the missing poll's 3 transitions
    real = out["costs"]["polling-60"]["per_1000_real_schedule"]
    assert real == pytest.approx(out["costs"]["polling-60"]["per_1000"] + 3 * 0.025 + 0.0002, abs=1e-4)
    row = out["alternatives"]["60"]
    assert row["fixed_5s_polls"] == 12
    assert row["polling_vs_fixed_5s"] < 1 < row["fixed_5s_per_1000"] / row["sleeping_lambda_per_1000"] + 1


def test_usage_prices_child_starts_logs_traces_and_each_functions_architecture() -> None:
    # GIVEN a run's counts: one x86 function among arm64 ones, 2 GiB logged, 190 trace roots
    snapshot = {
        "state_transitions": 14,
        "states_entered": 10,
        "retry_attempts": 2,
        "child_starts": 2,
        "lambda_invocations": {"A": 1, "B": 1},
        "lambda_gb_seconds": 3.0,
        "lambda_gb_seconds_by": {"A": 1.0, "B": 2.0},
        "lambda_peak_concurrency": {"A": 2, "B": 1},
        "dynamodb_read_units": 0,
        "dynamodb_write_units": 0,
        "requests": {},
        "api_requests": {"jobs": 30, "webhooks": 50},
        "log_bytes": {"A": 1024**3},
        "state_machine_log_bytes": 1024**3,
        "trace_roots": {"api": 80, "execution": 10, "sqs": 100},
    }
    functions = {
        "A": {"memory_mb": 1024, "architecture": "arm64", "handler": "genjobs.handlers.a.handler"},
        "B": {"memory_mb": 512, "architecture": "x86_64", "handler": "genjobs.handlers.b.handler"},
    }
    usage = usage_of(snapshot, functions, import_ms={"genjobs.handlers.a": 120, "genjobs.handlers.b": 20})
    # THEN each child start is billed as a transition of its own line, besides states and retries
    assert (usage.state_transitions, usage.child_starts) == (12, 2)
    # x86 GB-s are priced apart; INIT = environments x (runtime + import) x memory (x86 at its price)
    assert (usage.lambda_gb_seconds, usage.lambda_gb_seconds_x86) == (1.0, 2.0)
    assert usage.lambda_init_gb_seconds == pytest.approx(
        2 * 0.2 * 1 + 1 * 0.1 * 0.5 * 0.0000166667 / 0.0000133334
    )
    # logs at $0.50 per GB ingested; traces as template.yaml samples them: a request to the API (an
    # Active function) at Lambda's 5%, an execution at the sampling rule's 1%, none for a webhook or an
    # SQS-triggered invocation (their functions pass the caller's trace through)
    assert usage.log_gb == pytest.approx(2)
    assert usage.xray_traces == pytest.approx(30 * 0.05 + 10 * 0.01)
    costs = usage.costs()
    assert costs["log_gb"] == pytest.approx(1.0)
    assert costs["child_starts"] == pytest.approx(2 * 0.025 / 1000)
    # without the cold start measurement there is no INIT estimate
    assert usage_of(snapshot, functions).lambda_init_gb_seconds == 0
