"""The report's analysis of each missed target: by how much and why, from the run's own figures."""

from __future__ import annotations

from typing import Any


def _get(data: Any, *path: Any) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def section(s: dict[str, Any], summ: dict[str, Any]) -> list[str]:
    """One bullet per missed target (none when every target is met)."""
    out = ["## Where a target is missed, by how much, and why", ""]
    bullets = [
        *_costs(summ),
        *_overhead(s),
        *_cancel(s),
        *_imports(s),
        *_bigjob(s),
        *_creation(s),
    ]
    return [*out, *(bullets or ["Every target above is met by this run."]), ""]


# (mode, latency) -> the target in $ per 1,000 images
COST_TARGETS = {
    ("webhook", 20): 0.040,
    ("webhook", 60): 0.040,
    ("webhook", 600): 0.040,
    ("polling", 60): 0.15,
    ("polling", 600): 0.45,
}


def _cost_miss(summ: dict[str, Any], mode: str, latency: int, target: float) -> list[str]:
    entry = _get(summ, "costs", f"{mode}-{latency}") or {}
    total = entry.get("per_1000")
    if total is None or total <= target:
        return []
    u, lines = entry["usage_per_image"], entry["lines_per_1000"]
    biggest = sorted(lines.items(), key=lambda kv: -kv[1])[:3]
    return [
        f"- **{mode.capitalize()} cost at {latency} s ${total:.3f} per 1,000 images against ${target:.3f} "
        f"({(total / target - 1) * 100:.0f}% over).** Biggest line items: "
        + ", ".join(f"{name} ${value:.3f}" for name, value in biggest)
        + f" ({u['state_transitions']:.1f} states and retries + {u.get('child_starts', 0):.1f} child starts, "
        f"{u['dynamodb_write_units']:.1f} write units, {u['lambda_requests']:.1f} invocations per image)."
        + _by_job_size(entry, target),
    ]


def _by_job_size(entry: dict[str, Any], target: float) -> str:
    """The gap split into the job's own work (its share falls with the job's size) and each image's."""
    fit = entry.get("fit")
    if not fit:
        return ""
    per_job, per_image = fit["per_job"] * 1000, fit["per_image_per_1000"]
    lines = sorted((fit.get("per_image_lines_per_1000") or {}).items(), key=lambda kv: -kv[1])[:3]
    said = (
        f" Over job sizes (least squares): ${per_job / 1000:.6f} per job plus ${per_image:.4f} per 1,000 "
        "images, the image's own share being "
        + ", ".join(f"{name} ${value:.4f}" for name, value in lines)
        + "."
    )
    if per_image >= target:
        return said + " No job size meets the target: an image's own work alone is over it."
    smallest = per_job / (target - per_image)
    return said + f" Jobs of {smallest:.0f} images or more meet it; smaller jobs pay the job's share."


def _costs(summ: dict[str, Any]) -> list[str]:
    return [
        line for (mode, lat), target in COST_TARGETS.items() for line in _cost_miss(summ, mode, lat, target)
    ]


def _overhead(s: dict[str, Any]) -> list[str]:
    ov = s.get("overhead") or {}
    if "webhook" not in ov:
        return []
    w, p = ov["webhook"], ov["polling"]
    out = []
    if max(w["ratio"], p["ratio"]) > 1.05:
        out.append(
            f"- **Makespan {w['ratio']}x (webhook) and {p['ratio']}x (polling) of ideal against 1.05x.** The "
            f"provider itself was busy over {w['provider_span_s']} s and {p['provider_span_s']} s of the "
            f"{w['ideal_s']} s ideal. A freed slot is refilled when the batch's inline Map starts its next "
            "task, whose submission goes through the SQS hop and the submitter. In polling "
            "mode a task is seen finished only at its next check: the first lands at the catalog latency "
            "(20 s), on the completion itself, so any processing delay pushes it to the next check 15 s "
            "later; that is what a poll interval costs, and it is why the webhook mode exists. The rest "
            "is this machine's processing (moto and the handlers on 2 shared cores)"
            + (
                f", stretched {1 / w['time_scale']:.0f}x by TIME_SCALE {w['time_scale']}."
                if w["time_scale"] < 1
                else ", measured on the real clock (TIME_SCALE 1)."
            )
        )
    if (w.get("delay_p99_wall_s") or 0) > 1:
        out.append(
            f"- **Webhook p99 completion delay {w['delay_p99_wall_s']} s (wall) against 1 s**, p50 "
            f"{w['delay_p50_wall_s']} s: the tail is contention on this machine (10 concurrent tasks; the "
            "webhook handler downloads the output, copies it to S3, writes one DynamoDB transaction and "
            "answers the token, all in one process on 2 cores). It needs a measurement on AWS before it is "
            "called a miss of the design."
        )
    return out


def _cancel(s: dict[str, Any]) -> list[str]:
    out = []
    for mode in ("webhook", "polling"):
        c = _get(s, "cancel", mode) or {}
        if c and (c.get("cancel_at_provider_max_s") or 0) > (c.get("one_wake_up_s") or 60):
            out.append(
                f"- **{mode.capitalize()}-mode cancel at the provider after up to {c['cancel_at_provider_max_s']} s "
                f"against one wake-up ({c.get('one_wake_up_s')} s).** The cancel request puts one message on "
                "the SubmitQueue and the submitter cancels the in-flight tasks one by one (a provider call "
                f"and DynamoDB writes each), stretched {1 / c['time_scale']:.0f}x at TIME_SCALE "
                f"{c['time_scale']}."
            )
    return out


def _imports(s: dict[str, Any]) -> list[str]:
    imports = _get(s, "coldstart", "imports") or {}
    if not imports:
        return []
    slowest = max(v["median_ms"] for v in imports.values())
    if slowest <= 300:
        return []
    return [
        f"- **Slowest handler import {slowest:.0f} ms against 300 ms.** See where it goes with "
        "`python -X importtime -c 'import genjobs.handlers.X'`; `tests/tooling/test_import_weight.py` lists "
        "what must stay out of a handler's import (X-Ray with tracing off, boto3, requests, provider "
        "adapters, other handlers' utilities). This machine was shared with other runs: compare with "
        "the breakdown before calling it a regression.",
    ]


def _bigjob(s: dict[str, Any]) -> list[str]:
    sc = s.get("bigjob") or {}
    if "tasks" not in sc or sc.get("finished"):
        return []
    inv = sc.get("lambda_invocations", {})
    failed = sc.get("failed_by_error") or {}
    return [
        f"- **The {sc['tasks']:,}-task job did not run to completion locally**: {sc['tasks_ended']} tasks "
        f"ended in {sc['wall_s']} s ({sc['tasks_per_s']} tasks/s; {inv.get('SubmitterFunction', 0)} "
        f"submitter and {inv.get('FailTaskFunction', 0)} FailTask invocations)"
        + (f"; failed tasks by error: {failed}" if failed else "")
        + ". Give it more time with BENCH_BIGJOB_SECONDS. What a 10,000-task job means for the AWS "
        "limits is per execution and constant (section 1: a child's history and the state payloads do "
        "not grow with the job, and the parent's history is the same for any job size because "
        "Distributed Map children have histories of their own). The largest payload here was "
        f"{sc['largest_payload_bytes']} bytes.",
    ]


def _creation(s: dict[str, Any]) -> list[str]:
    created = _get(s, "scale", "creation") or {}
    slow = {k: v for k, v in created.items() if "(" in k and v["ratio_to_1"] > 1.5}
    return [
        f"- Creating a job given as {label.split('(')[1].rstrip(')')} took {r['median_s']:.2f} s "
        f"({r['ratio_to_1']}x a 1-task job): its request body is O(N) and is parsed, validated, hashed "
        "for idempotency and stored in S3 inside the API request. The `matrix` with `count` form is O(1)."
        for label, r in slow.items()
    ]
