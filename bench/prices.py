"""List prices (us-east-1) used by the report: /work/shared/notes/aws-limits-and-costs.md, plus S3 and
Secrets Manager, which that table does not list (S3 Standard requests, Secrets Manager API calls)."""

from __future__ import annotations

PER_MILLION = 1_000_000

PRICES: dict[str, float] = {
    "state_transitions": 0.025 / 1_000,  # Step Functions Standard, per transition
    "lambda_requests": 0.20 / PER_MILLION,
    "lambda_gb_seconds": 0.0000133334,  # arm64
    "dynamodb_write_units": 0.625 / PER_MILLION,  # on-demand
    "dynamodb_read_units": 0.125 / PER_MILLION,
    "sqs_requests": 0.40 / PER_MILLION,
    "sns_publishes": 0.50 / PER_MILLION,
    "api_requests": 1.00 / PER_MILLION,  # HTTP API
    "s3_writes": 0.005 / 1_000,  # PUT, COPY, POST, LIST
    "s3_reads": 0.0004 / 1_000,  # GET, HEAD
    "secrets_calls": 0.05 / 10_000,
}

# Where the report states the price it used.
SOURCES = {
    "state_transitions": "$0.025 per 1,000 state transitions",
    "lambda_requests": "$0.20 per 1M requests",
    "lambda_gb_seconds": "$0.0000133334 per GB-s (arm64)",
    "dynamodb_write_units": "$0.625 per 1M write units",
    "dynamodb_read_units": "$0.125 per 1M read units",
    "sqs_requests": "$0.40 per 1M requests",
    "sns_publishes": "$0.50 per 1M publishes",
    "api_requests": "$1.00 per 1M HTTP API requests",
    "s3_writes": "$0.005 per 1,000 PUT/LIST (S3 Standard; not in the notes' table)",
    "s3_reads": "$0.0004 per 1,000 GET/HEAD (S3 Standard; not in the notes' table)",
    "secrets_calls": "$0.05 per 10,000 API calls (Secrets Manager; not in the notes' table)",
}

SLEEPER_MEMORY_GB = 128 / 1024  # the "Lambda that sleeps while it polls" alternative
FIXED_POLL_SECONDS = 5  # the "poll inside the state machine every 5 s" alternative
# The loop a team writes to poll inside the state machine: Wait, the status Task, a Choice.
FIXED_LOOP_TRANSITIONS = 3
