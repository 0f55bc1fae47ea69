"""Section 1 of the report: AWS work and cost per image, per waiting mode and provider latency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.misses import _get
from bench.usage import LOG_GB

LATENCIES = (20, 60, 600)
MODES = ("webhook", "polling")
KEYS = [f"{mode}-{lat}" for lat in LATENCIES for mode in MODES]
# A polled job that checked less than this share of the real schedule's polls fell behind the
# compressed clock (local processing stretched by 1/TIME_SCALE): its figure is low.
BEHIND = 0.8


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.4f}"


# (label, field of the usage per image, format); None: a row made by hand
_USAGE_ROWS: list[tuple[str, str | None, str]] = [
    ("states entered + Retry attempts", "state_transitions", "{:.1f}"),
    ("child starts (Distributed Map)", "child_starts", "{:.2f}"),
    ("Lambda invocations", "lambda_requests", "{:.2f}"),
    ("Lambda GB-s (duration; arm64 + x86)", None, ""),
    ("Lambda INIT GB-s (estimate)", "lambda_init_gb_seconds", "{:.4f}"),
    ("DynamoDB read units", "dynamodb_read_units", "{:.1f}"),
    ("DynamoDB write units", "dynamodb_write_units", "{:.1f}"),
    ("SQS requests (64 KB units)", "sqs_requests", "{:.2f}"),
    ("SNS publishes", "sns_publishes", "{:.2f}"),
    ("API requests", "api_requests", "{:.2f}"),
    ("S3 PUT / GET+HEAD", None, ""),
    ("CloudWatch Logs bytes ingested", None, ""),
    ("X-Ray traces recorded", "xray_traces", "{:.3f}"),
]


def _usage_cell(u: dict[str, float], label: str, name: str | None, fmt: str) -> str:
    if name is not None:
        return fmt.format(u.get(name, 0.0))
    if label.startswith("Lambda GB-s"):
        return f"{u['lambda_gb_seconds'] + u.get('lambda_gb_seconds_x86', 0.0):.3f}"
    if label.startswith("S3"):
        return f"{u['s3_writes']:.2f} / {u['s3_reads']:.2f}"
    return f"{u.get('log_gb', 0.0) * LOG_GB:,.0f}"


def _run_rows(costs: dict[str, Any]) -> list[tuple[str, Callable[[dict[str, Any]], str] | None]]:
    def cost(r: dict[str, Any], *path: str) -> Any:
        return _get(costs, f"{r['mode']}-{r['latency_s']:g}", *path)

    def spread(r: dict[str, Any]) -> str:
        values = cost(r, "repeats_per_1000")
        return " / ".join(_money(v) for v in values) if values else "n/a"

    def sizes(r: dict[str, Any]) -> str:
        measured = cost(r, "sizes_per_1000") or {}
        cells = []
        for n, v in measured.items():
            run = (r.get("sizes") or {}).get(n) or {}
            polls = run.get("polls_per_image") if r["mode"] == "polling" else None
            behind = polls is not None and polls < BEHIND * r["polls_per_image_real_schedule"]
            cells.append(
                f"{n}: {_money(v)}"
                + (f" ({polls:.1f} polls{', behind' if behind else ''})" if polls is not None else "")
            )
        return ", ".join(cells) or "n/a"

    def fitted(r: dict[str, Any]) -> str:
        f = cost(r, "fit")
        if not f:
            return "n/a"
        at = ", ".join(f"{n}: {_money(v)}" for n, v in f["at_size_per_1000"].items())
        return f"${f['per_job']:.6f} per job + {_money(f['per_image_per_1000'])} per 1,000 images; {at}"

    def far(r: dict[str, Any]) -> str:
        f = cost(r, "far")
        return f"{_money(f['per_1000'])} ({f['factor']:g}x)" if f else "-"

    return [
        (
            "polls per image (measured / real schedule)",
            lambda r: (
                f"{r['polls_per_image']:.2f} / {r['polls_per_image_real_schedule']:.1f}"
                if r["mode"] == "polling"
                else "-"
            ),
        ),
        (
            "history events, largest execution (parent / child)",
            lambda r: f"{r['snapshot']['max_events']['parent']} / {r['snapshot']['max_events']['child']}",
        ),
        ("largest state payload (bytes)", lambda r: str(r["snapshot"]["largest_payload_bytes"])),
        (
            "images, task latencies (s), TIME_SCALE, wall s",
            lambda r: (
                f"{r['images']}, {'-'.join(f'{x:g}' for x in r.get('latency_spread_s', []))}, "
                f"{r['time_scale']}, {r['wall_s']}"
            ),
        ),
        ("**AWS cost per 1,000 images** (median of the repeats)", None),
        ("min / median / max of the repeated jobs", spread),
        ("measured per job size (images: cost per 1,000)", sizes),
        ("fit: per job + per image; at 5, 20, 150 images", fitted),
        ("tasks 10x the model's expected time", far),
    ]


def section(s: dict[str, Any], summ: dict[str, Any]) -> list[str]:
    costs = summ.get("costs", {})
    lines = [
        "## 1. AWS work and cost per image",
        "",
        "Each run: one job of N images, all in flight at once (`concurrency` = N, at most 100), each task "
        "with its own simulator latency drawn uniformly within ±25% of the column's (seeded: seeds 0, 1, 2 "
        "for the repeated jobs), provider queue 0 s, the sweeper on. Each column's job is repeated 3 "
        "times and the median is shown; jobs of other sizes (seed 0 for the smaller, seed 2 for the "
        "larger) split the work of a job from the work of an image (least squares over the sizes). The "
        "model `sim-image` polls (catalog latency 20 s: first check at 20 s, then 15, 30, 60 s... up to "
        "120 s apart: the Retry of CheckCancellationAndStatus on TaskNotReady, one state transition per "
        "check); `sim-image-webhook` waits on a task token completed by the webhook. The tasks run in "
        "batches, one Distributed Map child per batch (its start billed as a transition). Counts per "
        "image include the job's share of the parent's 4 states (PrepareJob, RunTasks, MoreRounds, "
        "SettleJob), the children, and the push.",
        "",
        "| per image | " + " | ".join(f"{mode} {lat} s" for lat in LATENCIES for mode in MODES) + " |",
        "| --- |" + " --- |" * len(KEYS),
    ]
    for label, name, fmt in _USAGE_ROWS:
        cells = []
        for key in KEYS:
            u = _get(costs, key, "usage_per_image")
            cells.append("n/a" if u is None else _usage_cell(u, label, name, fmt))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, getter in _run_rows(costs):
        cells = []
        for lat in LATENCIES:
            for mode in MODES:
                r = _get(s, f"cost-{lat}", mode)
                if r is None or "snapshot" not in r:
                    cells.append("n/a")
                elif getter is None:
                    cells.append(f"**{_money(_get(costs, f'{mode}-{lat}', 'per_1000'))}**")
                else:
                    cells.append(getter(r))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "*behind*: the job made fewer status checks than the real schedule gives its latencies (the "
        "polls per image of the column's median job): with many tasks in flight the local stack's "
        "processing, stretched by 1/TIME_SCALE, lets the provider finish before the poll chain advances "
        "(see the compressed clock check below). Such a figure is low by the missing polls (one "
        "transition, one invocation and its logs each), and so is a fit that uses it.",
    ]
    commands = sorted({c["command"] for c in costs.values() if c.get("command")})
    lines += ["", "Measured by " + "; ".join(f"`{c}`" for c in commands) + "." if commands else ""]
    lines += [
        "",
        "Cost per 1,000 images by line item:",
        "",
        "| line item | " + " | ".join(KEYS) + " |",
        "| --- |" + " --- |" * len(KEYS),
    ]
    items: dict[str, float] = next((c["lines_per_1000"] for c in costs.values()), {})
    for item in items:
        lines.append(
            f"| {item} | " + " | ".join(_money(_get(costs, k, "lines_per_1000", item)) for k in KEYS) + " |"
        )
    lines += _chart(summ)
    lines += _write_units_by_request(s)
    lines += _log_emitters(s)
    lines += _fixed(summ)
    lines += _assumptions(s)
    lines += _pollcheck(s)
    return lines


def _chart(summ: dict[str, Any]) -> list[str]:
    if not summ.get("costs") and not summ.get("designs"):
        return []
    return [
        "",
        "![AWS cost per 1,000 images by design and provider latency, by line item](bench-cost.svg)",
        "",
        "*docs/bench-cost.svg, drawn from docs/bench.json by `make bench` or `python -m bench --render`.*",
    ]


def _runs_with(s: dict[str, Any], counted: str) -> dict[str, dict[str, Any]]:
    """The cost runs (median of each column) whose snapshot has `counted`, by column."""
    return {
        f"{mode}-{lat}": r
        for lat in LATENCIES
        for mode in MODES
        if (r := _get(s, f"cost-{lat}", mode)) and counted in r.get("snapshot", {})
    }


def _per_image(
    runs: dict[str, dict[str, Any]], counts: Callable[[dict[str, Any]], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Per column, a snapshot's counts by name divided by the run's images."""
    return {k: {name: v / r["images"] for name, v in counts(r["snapshot"]).items()} for k, r in runs.items()}


def _biggest_first(per_image: dict[str, dict[str, float]]) -> list[str]:
    """Every name of the columns, the largest in any column first."""
    return sorted(
        {name for values in per_image.values() for name in values},
        key=lambda name: (-max(v.get(name, 0) for v in per_image.values()), name),
    )


def _table_head(caption: str, first: str, runs: dict[str, Any]) -> list[str]:
    """A captioned table's head: `first` then one column per run."""
    return ["", caption, "", f"| {first} | " + " | ".join(runs) + " |", "| --- |" + " --- |" * len(runs)]


def _write_units_by_request(s: dict[str, Any]) -> list[str]:
    """Where the DynamoDB write units of one image go, by request and the kinds of item it writes."""
    runs = _runs_with(s, "dynamodb_write_units_by")
    if not runs:
        return []
    per_image = _per_image(runs, lambda snapshot: snapshot["dynamodb_write_units_by"])
    kinds = _biggest_first(per_image)
    lines = _table_head(
        "DynamoDB write units per image by request (item kinds by sort-key prefix; a transaction's "
        "units count double, a GSI's write is added to its item's):",
        "request [items]",
        runs,
    )
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(f"{u.get(kind, 0):.2f}" for u in per_image.values()) + " |")
    return lines


def _log_emitters(s: dict[str, Any], top: int = 10) -> list[str]:
    """Which function and line logs most: CloudWatch Logs bytes per image by emitter."""
    runs = _runs_with(s, "log_emitters")
    if not runs:
        return []
    per_image = _per_image(
        runs, lambda snapshot: {e: v["bytes"] for e, v in snapshot["log_emitters"].items()}
    )
    lines_per_image = _per_image(
        runs, lambda snapshot: {e: v["lines"] for e, v in snapshot["log_emitters"].items()}
    )
    emitters = _biggest_first(per_image)[:top]
    out = _table_head(
        f"CloudWatch Logs bytes (and lines) per image by emitter, the {top} biggest (function | what wrote "
        "it: a powertools line by its level and location, `metrics` for EMF lines, Lambda's platform "
        "lines, the runtime's record of an unhandled error such as TaskNotReady):",
        "function, emitter",
        runs,
    )
    for e in emitters:
        cells = [f"{per_image[k].get(e, 0):,.0f} ({lines_per_image[k].get(e, 0):.2f})" for k in runs]
        out.append(f"| {e.replace('|', ', ')} | " + " | ".join(cells) + " |")
    state_machine = [
        f"{k} {r['snapshot'].get('state_machine_log_bytes', 0) / r['images']:,.0f}" for k, r in runs.items()
    ]
    out += [
        "",
        "State machine log group (level ERROR, failure events only), bytes per image: "
        + ", ".join(state_machine)
        + ".",
    ]
    return out


def _fixed(summ: dict[str, Any]) -> list[str]:
    f = summ.get("fixed") or {}
    if not f:
        return []
    sampling = f["sampling"]
    sweeper = f.get("sweeper_per_month")
    return [
        "",
        "**Fixed costs (a month, whatever the load; not in the per-image figures).** "
        + (
            f"The sweeper's idle passes (one a minute, measured with no job running): {_money(sweeper)}. "
            if sweeper is not None
            else ""
        )
        + f"Lambda's SQS pollers' empty receives on the {f['sqs_queues_polled']} queues an event source "
        f"mapping polls (about 5 long-polling pollers a queue, each ReceiveMessage waiting 20 s: 648,000 a "
        f"month a queue; the local pollers' empty receives are not counted): {_money(f['sqs_idle_receives_per_month'])}. "
        f"X-Ray ({sampling['source']}: {sampling['ReservoirSize']} trace a second, then "
        f"{sampling['FixedRate']:.0%}): the per-image figures apply the rate; the reservoir adds at most "
        f"${f['xray_reservoir_per_month_at_most']:.2f} (one trace every second all month).",
    ]


def _assumptions(s: dict[str, Any]) -> list[str]:
    return [
        "",
        "**What is estimated, not measured.** CloudWatch Logs: each event is its UTF-8 bytes plus 26 (the "
        "PutLogEvents size rule); Lambda's own JSON platform lines are taken as 120 bytes (`platform.start`) "
        "and 330 bytes (`platform.report` with the X-Ray span) per invocation; an unhandled error adds the "
        "runtime's record (the error payload plus 110 bytes); the state machine's failure events (level "
        "ERROR, no execution data) as their details plus 250 bytes. X-Ray: trace roots are each API "
        "request, each SQS- or schedule-triggered invocation and each state machine execution; the Lambdas "
        "a state machine invokes, and the Distributed Map's children, join its trace. Lambda INIT: each "
        "function gets as many execution environments as it had invocations running at once in the job "
        "(none found warm: a job arriving on an idle stack), each initialising for 80 ms of runtime plus "
        "its handler module's import time (section 6); without a coldstart result INIT is 0. The "
        "Step Functions API calls (StartExecution, SendTaskSuccess, SendTaskHeartbeat) are free; they are "
        "in bench.json under `free_requests`. Child history events are as the interpreter emits them; "
        "AWS adds ExecutionStarted and ExecutionSucceeded to each child's history (+2).",
        "",
    ]


def _pollcheck(s: dict[str, Any]) -> list[str]:
    pc = s.get("pollcheck")
    if not pc or "polls_per_image" not in pc:
        return []
    return [
        "**Compressed clock check.** A 10-minute latency at TIME_SCALE "
        f"{pc['time_scale']} ({pc['wall_s']} s of wall time, {pc['images']} images): "
        f"{pc['polls_per_image']:.2f} polls per image measured, {pc['polls_per_image_real_schedule']} on the "
        "real schedule. The cost table's 10-minute run uses TIME_SCALE "
        f"{_get(s, 'cost-600', 'polling', 'time_scale')}, where it measured "
        f"{_get(s, 'cost-600', 'polling', 'polls_per_image')} polls per image. At a very small TIME_SCALE "
        "each wake-up's local processing (tens of ms of wall time) becomes tens of schedule seconds, so "
        "the provider finishes sooner in schedule terms than the poll chain advances: fewer polls than "
        "the real schedule. Waits, retries and visibility timeouts are scaled consistently; processing "
        "time cannot be.",
        "",
    ]
