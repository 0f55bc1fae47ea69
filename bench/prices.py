"""List prices (us-east-1) used by the report: /work/shared/notes/aws-limits-and-costs.md, plus S3,
Secrets Manager, CloudWatch Logs and X-Ray, which that table does not list."""

from __future__ import annotations

PER_MILLION = 1_000_000
ARM64_GB_SECOND = 0.0000133334
X86_GB_SECOND = 0.0000166667

PRICES: dict[str, float] = {
    "state_transitions": 0.025 / 1_000,  # Step Functions Standard, per transition
    "child_starts": 0.025 / 1_000,  # a Distributed Map child's start is billed as one transition
    "lambda_requests": 0.20 / PER_MILLION,
    "lambda_gb_seconds": ARM64_GB_SECOND,
    "lambda_gb_seconds_x86": X86_GB_SECOND,
    "lambda_init_gb_seconds": ARM64_GB_SECOND,  # INIT is billed like duration (x86 INIT converted)
    "dynamodb_write_units": 0.625 / PER_MILLION,  # on-demand
    "dynamodb_read_units": 0.125 / PER_MILLION,
    "sqs_requests": 0.40 / PER_MILLION,
    "sns_publishes": 0.50 / PER_MILLION,
    "api_requests": 1.00 / PER_MILLION,  # HTTP API
    "s3_writes": 0.005 / 1_000,  # PUT, COPY, POST, LIST
    "s3_reads": 0.0004 / 1_000,  # GET, HEAD
    "secrets_calls": 0.05 / 10_000,
    "log_gb": 0.50,  # CloudWatch Logs ingested (Standard class)
    "xray_traces": 5.00 / PER_MILLION,  # traces recorded
    "websocket_messages": 1.00 / PER_MILLION,  # API Gateway WebSocket, per 32 KB message (first 1B)
    "websocket_connection_minutes": 0.25 / PER_MILLION,
    "stream_reads_by_lambda": 0.0,  # DynamoDB Streams GetRecords made by a Lambda trigger
}

# Where the report states the price it used.
SOURCES = {
    "state_transitions": "$0.025 per 1,000 state transitions (states entered and Retry attempts)",
    "child_starts": "$0.025 per 1,000: AWS bills one transition per child execution a Distributed Map starts",
    "lambda_requests": "$0.20 per 1M requests",
    "lambda_gb_seconds": "$0.0000133334 per GB-s (arm64)",
    "lambda_gb_seconds_x86": "$0.0000166667 per GB-s (x86_64)",
    "lambda_init_gb_seconds": "INIT billed as duration since Aug 2025 (arm64 price; x86 INIT scaled by 1.25)",
    "dynamodb_write_units": "$0.625 per 1M write units",
    "dynamodb_read_units": "$0.125 per 1M read units",
    "sqs_requests": "$0.40 per 1M requests (each 64 KB of a request's messages is one request)",
    "sns_publishes": "$0.50 per 1M publishes",
    "api_requests": "$1.00 per 1M HTTP API requests",
    "s3_writes": "$0.005 per 1,000 PUT/LIST (S3 Standard; not in the notes' table)",
    "s3_reads": "$0.0004 per 1,000 GET/HEAD (S3 Standard; not in the notes' table)",
    "secrets_calls": "$0.05 per 10,000 API calls (Secrets Manager; not in the notes' table)",
    "log_gb": "$0.50 per GB of CloudWatch Logs ingested",
    "xray_traces": "$5.00 per 1M X-Ray traces recorded",
    "websocket_messages": "$1.00 per 1M WebSocket messages, counted in 32 KB increments (API Gateway)",
    "websocket_connection_minutes": "$0.25 per 1M WebSocket connection minutes (API Gateway)",
    "stream_reads_by_lambda": "free: GetRecords calls made by AWS Lambda as part of a DynamoDB trigger",
}

SLEEPER_MEMORY_GB = 128 / 1024  # the "Lambda that sleeps while it polls" alternative
FIXED_POLL_SECONDS = 5  # the "poll inside the state machine every 5 s" alternative
# The loop a team writes to poll inside the state machine: Wait, the status Task, a Choice.
FIXED_LOOP_TRANSITIONS = 3
# Lambda's SQS event source mapping long-polls each queue with about 5 pollers while it is idle, each
# ReceiveMessage waiting 20 s: 5 x 3 per minute = 648,000 empty receives a month per queue.
IDLE_RECEIVES_PER_QUEUE_MONTH = 5 * 3 * 60 * 24 * 30
# A bare Python runtime's own INIT before the handler module is imported (75 to 90 ms measured).
RUNTIME_INIT_MS = 80
