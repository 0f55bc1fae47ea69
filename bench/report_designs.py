"""The report's section on the designs side by side: genjobs' webhook and polling modes (the cost
scenarios of the same run) beside the alternative designs run on the same stack
(bench.scenarios.designs), per 1,000 images and by line item, with the published anchors."""

from __future__ import annotations

from typing import Any

from bench.models import split_polling
from bench.usage import Usage

LATENCIES = (20, 60, 600)
# label, scenario family, key in its result
COLUMNS = (
    ("genjobs webhook", "cost", "webhook"),
    ("genjobs polling", "cost", "polling"),
    ("naive 5 s poll loop", "designs", "poll-loop"),
    ("inline-Map callback", "designs", "callback"),
    ("floor (no workflow)", "designs", "floor"),
)
# /work/shared/notes/aws-limits-and-costs.md: the research's figures for the same work, per 1,000 images.
ANCHORS = {
    "poll-loop": "$1.29 at 60 s (about $12 at 10 min)",
    "callback": "about $0.082",
    "floor": "about $0.004; $0.009 with one S3 PUT per image",
}
USAGE_ROWS = (
    ("state transitions", "state_transitions", 1),
    ("Lambda invocations", "lambda_requests", 2),
    ("Lambda GB-s", "lambda_gb_seconds", 3),
    ("DynamoDB write units", "dynamodb_write_units", 1),
    ("DynamoDB read units", "dynamodb_read_units", 1),
    ("SQS requests", "sqs_requests", 2),
    ("HTTP API requests", "api_requests", 2),
    ("S3 PUT", "s3_writes", 2),
)


def _run(s: dict[str, Any], family: str, key: str, latency: int) -> dict[str, Any] | None:
    found = (
        s.get(f"cost-{latency}") if family == "cost" else (s.get("designs") or {}).get(str(latency))
    ) or {}
    run = found.get(key) if isinstance(found, dict) else None
    return run if isinstance(run, dict) and "per_image" in run else None


def _per_1000(run: dict[str, Any] | None) -> str:
    return "n/a" if run is None else f"${Usage(**run['per_image']).cost() * 1000:.4f}"


def section(s: dict[str, Any]) -> list[str]:
    designs = s.get("designs") or {}
    if not any(isinstance(designs.get(str(latency)), dict) for latency in LATENCIES):
        return []
    first = next(r for lat in LATENCIES for r in (designs.get(str(lat)) or {}).values())
    lines = [
        "## 2. The designs side by side (measured)",
        "",
        "Each design does genjobs' work on the same stack and simulated workload: one job of "
        f"{first['images']} images of the simulator's `sim-image` all in flight at once, provider latency as "
        "shown, each output copied into S3 and a result item per image written in DynamoDB, metered like "
        "the cost runs (meter reset, run, wait until quiet). *Naive 5 s poll loop*: one execution per "
        "job, an inline Map whose item runs Submit (Lambda) -> Wait 5 s -> Poll (Lambda: status, and the "
        "copy once done) -> Choice, then a DynamoDB putItem state. *Inline-Map callback*: one execution per "
        "job, an inline Map whose item is a `lambda:invoke.waitForTaskToken` (the Lambda submits with a "
        "webhook URL carrying the token), answered by the webhook's Lambda after it copied the output, then "
        "the putItem state. *Floor*: no Step Functions: a Lambda submits each image, the webhook's Lambda "
        "copies the output and writes the result. Their functions have genjobs' memory (256 MB arm64); "
        "every webhook delivery (the simulator sends one when a prediction starts running and one when it "
        "ends) is an HTTP API request and an invocation, as for genjobs. The designs check no signature, "
        "keep no ledger, and cannot cancel (the anchor's poll loop also reads a cancel flag each round: 4 "
        "transitions a poll where this one has 3). genjobs' columns are the cost scenarios of the same run "
        "(section 1); the app's `POST /jobs` is in them, the designs' StartExecution is free. Published "
        "anchors: /work/shared/notes/aws-limits-and-costs.md.",
        "",
        "| AWS cost per 1,000 images | 20 s | 60 s | 10 min | published anchor |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, family, key in COLUMNS:
        costs = " | ".join(_per_1000(_run(s, family, key, lat)) for lat in LATENCIES)
        lines.append(f"| {label} | {costs} | {ANCHORS.get(key, '-')} |")
    for latency in LATENCIES:
        lines += _line_items(s, latency)
    return [*lines, ""]


def _line_items(s: dict[str, Any], latency: int) -> list[str]:
    runs = [(label, _run(s, family, key, latency)) for label, family, key in COLUMNS]
    present = [(label, run) for label, run in runs if run is not None]
    if not present:
        return []
    usages = [Usage(**run["per_image"]) for _, run in present]
    name = "10 min" if latency == 600 else f"{latency} s"
    lines = [
        "",
        f"**At {name}**, per 1,000 images by line item, then the usage per image:",
        "",
        "| | " + " | ".join(label for label, _ in present) + " |",
        "| --- |" + " --- |" * len(present),
    ]
    lines += line_item_rows(usages)
    lines.append(_row("**total**", [f"**${u.cost() * 1000:.4f}**" for u in usages]))
    lines.append(_row("cost with the real schedule's poll count", [_real(s, r) for _, r in present]))
    for label, field, digits in USAGE_ROWS:
        lines.append(_row(label, [f"{getattr(u, field):.{digits}f}" for u in usages]))
    lines.append(_row("polls per image (measured / real schedule)", [_polls(r) for _, r in present]))
    lines.append(_row("images completed / outputs in S3", [_done(r) for _, r in present]))
    lines.append(
        _row(
            "images, TIME_SCALE, wall s",
            [f"{r['images']}, {r['time_scale']}, {r['wall_s']}" for _, r in present],
        )
    )
    return lines


def line_item_rows(usages: list[Usage]) -> list[str]:
    """A table row per line item that costs anything: dollars per 1,000 of each usage's unit."""
    rows = []
    for item in usages[0].costs():
        values = [u.costs()[item] * 1000 for u in usages]
        if any(values):
            rows.append(_row(item, [f"${v:.4f}" for v in values]))
    return rows


def _row(label: str, cells: list[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |"


def _real(s: dict[str, Any], run: dict[str, Any]) -> str:
    """The poll loop's cost had it polled every 5 schedule s exactly: local processing stretches each
    round in schedule time (by 1/TIME_SCALE), so a compressed run polls less often. The work of one
    poll is the difference between its 20 s and 10 min runs divided by their difference in polls."""
    if run.get("design") != "poll-loop":
        return "-"
    short, long = (_run(s, "designs", "poll-loop", lat) for lat in (20, 600))
    if short is None or long is None or short["polls_per_image"] == long["polls_per_image"]:
        return "n/a"
    split = split_polling(
        Usage(**short["per_image"]),
        short["polls_per_image"],
        Usage(**long["per_image"]),
        long["polls_per_image"],
    )
    missing = run["polls_per_image_real_schedule"] - run["polls_per_image"]
    return f"${(Usage(**run['per_image']) + split.per_poll.scaled(missing)).cost() * 1000:.4f}"


def _polls(run: dict[str, Any]) -> str:
    real = run.get("polls_per_image_real_schedule")
    return f"{run['polls_per_image']:.2f} / {real}" if real else "-"


def _done(run: dict[str, Any]) -> str:
    outputs = run.get("outputs_in_s3")
    return f"{run['completed']} / {outputs if outputs is not None else '-'}"
