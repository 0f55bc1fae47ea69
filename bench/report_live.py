"""The report's live channel section (bench.scenarios.live): latency from a task's transition to a
connected app, frames per job, and the channel's cost per 1,000 images."""

from __future__ import annotations

from typing import Any

from bench.prices import PRICES, SOURCES


def cost_per_thousand(r: dict[str, Any]) -> dict[str, float]:
    """The channel's line items in USD per 1,000 images of the run."""
    per = 1000 / r["images"]
    lf = r["live_function"]
    return {
        "messages": r["posts"] * PRICES["websocket_messages"] * per,
        "connection minutes": r["connection_minutes_schedule"] * PRICES["websocket_connection_minutes"] * per,
        "stream reads": 0.0,
        "LiveFunction requests": lf["invocations"] * PRICES["lambda_requests"] * per,
        "LiveFunction duration": lf["gb_seconds"] * PRICES["lambda_gb_seconds"] * per,
        "DynamoDB writes (changes, counters)": r["live_write_units"] * PRICES["dynamodb_write_units"] * per,
    }


def section(s: dict[str, Any]) -> list[str]:
    r = s.get("live")
    if not r or "images" not in r:
        return []
    lat = r["task_latency_s"]
    items = cost_per_thousand(r)
    lines = [
        "## 10. Live channel",
        "",
        f"**What and how.** {r['jobs']} jobs of {r['tasks_per_job']} polled simulator images "
        f"({r['images']} images) created at once, TIME_SCALE {r['time_scale']}, one app connected to "
        "the local WebSocket API for all of the user's jobs (a real client). Latency: from a task's "
        "transition (its stream record's creation time, the moment its item was written) to the app "
        "receiving the frame, wall seconds: the stream poller, LiveFunction and the post run at wall "
        "speed. Costs are counted from the run (meter) and priced per 1,000 images.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| task transition -> app, p50 | {lat['p50']} s |",
        f"| task transition -> app, p99 | {lat['p99']} s (max {lat['max']} s, {lat['samples']} frames) |",
        f"| frames per job | {r['frames_per_job']} (most {r['frames_per_job_max']}) |",
        f"| every job's frames numbered 1..n in order | {'yes' if r['every_job_in_order_without_gaps'] else 'NO'} |",
        f"| LiveFunction invocations | {r['live_function']['invocations']} |",
        f"| all jobs ended | {'yes' if r['all_ended'] else 'NO'} |",
        "",
        "| cost per 1,000 images | USD | price |",
        "| --- | ---: | --- |",
    ]
    sources = {
        "messages": SOURCES["websocket_messages"],
        "connection minutes": SOURCES["websocket_connection_minutes"]
        + f"; one app connected for the run's {r['connection_minutes_schedule']} schedule minutes",
        "stream reads": SOURCES["stream_reads_by_lambda"],
        "LiveFunction requests": SOURCES["lambda_requests"],
        "LiveFunction duration": SOURCES["lambda_gb_seconds"] + " (local in-process durations)",
        "DynamoDB writes (changes, counters)": SOURCES["dynamodb_write_units"],
    }
    for name, usd in items.items():
        lines.append(f"| {name} | {usd:.5f} | {sources[name]} |")
    lines += [
        f"| **total** | **{sum(items.values()):.5f}** | |",
        "",
        "Each frame is one change of one job (a task's status, progress or outputs, or the job's "
        "counts and percent); a write that changes none of these (a token, a heartbeat, a sweep mark) "
        "sends nothing. Every change is also kept (one write) so that `events?after=` can list it.",
        "",
        "The latency is the local stack's, not AWS's: moto keeps one stream shard per table, so one "
        "LiveFunction batch at a time (a few seconds each on 2 shared cores) serves every job of the "
        "run, and the 200 jobs' changes queue behind each other. On AWS a table's partitions each have "
        "their shard, read in parallel. Making LiveFunction cheaper per batch (one frame per job per "
        "batch, fewer DynamoDB calls) is the local lever.",
        "",
    ]
    return lines
