"""The report: derived figures (summary) and docs/bench.md, from the scenarios' raw results."""

from __future__ import annotations

from typing import Any

from bench import misses, report_costs, report_designs, report_fairness, report_live, report_pipelines
from bench.models import fixed_interval_design, fixed_polls, sleeping_lambda_design, split_polling
from bench.prices import SOURCES
from bench.usage import (
    Usage,
    fit,
    function_config,
    idle_sqs_cost_per_month,
    init_gb_seconds,
    sampling_rule,
    sqs_queues_polled,
    xray_reservoir_cost_per_month,
)

LATENCIES = (20, 60, 600)
TARGETS = {
    "webhook_cost": 0.040,  # $ per 1,000 images at 20 s, 60 s and 10 min, sweeper on
    "polling_cost_60": 0.15,  # $ per 1,000 images at 60 s
    "polling_cost_600": 0.45,  # $ per 1,000 images at 10 min
    "makespan_ratio": 1.05,
    "webhook_p99_s": 1.0,
    "import_ms": 300.0,
    "creation_ratio": 1.5,
}
JOB_SIZES = (5, 20, 150)


def _usage(result: dict[str, Any], mode: str) -> Usage | None:
    entry = result.get(mode) if isinstance(result, dict) else None
    return Usage.of(entry["per_image"]) if entry and "per_image" in entry else None


def _priced(run: dict[str, Any], functions: dict[str, Any], imports: dict[str, float] | None) -> Usage:
    """A run's usage per image with the INIT of the environments it needed (coldstart's imports)."""
    peak = run.get("peak") or _get(run, "snapshot", "lambda_peak_concurrency") or {}
    init = init_gb_seconds({"lambda_peak_concurrency": peak}, functions, imports)
    return Usage.of(run["per_image"]) + Usage(lambda_init_gb_seconds=init / run.get("images", 1))


def _spread(values: list[float]) -> list[float]:
    ordered = sorted(values)
    return [round(ordered[0], 4), round(ordered[len(ordered) // 2], 4), round(ordered[-1], 4)]


def _cost_entry(
    entry: dict[str, Any], functions: dict[str, Any], imports: dict[str, float] | None
) -> dict[str, Any]:
    usage = _priced(entry, functions, imports)
    out: dict[str, Any] = {
        "per_1000": round(usage.cost() * 1000, 4),
        "lines_per_1000": {k: round(v * 1000, 5) for k, v in usage.costs().items()},
        "usage_per_image": usage.as_dict(),
    }
    repeats = entry.get("repeats") or []
    if repeats:
        out["repeats_per_1000"] = _spread([_priced(r, functions, imports).cost() * 1000 for r in repeats])
    sizes = entry.get("sizes") or {}
    if sizes:
        priced = {int(n): _priced(r, functions, imports) for n, r in sizes.items()}
        out["sizes_per_1000"] = {str(n): round(u.cost() * 1000, 4) for n, u in sorted(priced.items())}
        fitted = fit(sorted(priced.items()))
        if fitted:
            per_job, per_image = fitted
            out["fit"] = {
                "per_job": round(per_job.cost(), 6),
                "per_image_per_1000": round(per_image.cost() * 1000, 4),
                "per_image_lines_per_1000": {k: round(v * 1000, 5) for k, v in per_image.costs().items()},
                "at_size_per_1000": {
                    str(n): round((per_job.cost() / n + per_image.cost()) * 1000, 4) for n in JOB_SIZES
                },
            }
    if "far" in entry:
        out["far"] = {
            "factor": entry["far"]["factor"],
            "per_1000": round(_priced(entry["far"], functions, imports).cost() * 1000, 4),
        }
    if "_command" in entry:
        out["command"] = entry["_command"]
    return out


def _designs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every priced result under a `designs-*` scenario: a dict with `per_image` and `latency_s`."""
    found = []
    for key, result in sorted(results.items()):
        if not key.startswith("designs") or not isinstance(result, dict):
            continue
        for name, entry in result.items():
            if isinstance(entry, dict) and "per_image" in entry and "latency_s" in entry:
                usage = Usage.of(entry["per_image"])
                found.append(
                    {
                        "design": str(entry.get("design") or name),
                        "latency_s": entry["latency_s"],
                        "usage_per_image": usage.as_dict(),
                        "per_1000": round(usage.cost() * 1000, 4),
                    }
                )
    return found


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Cost per 1,000 images per mode and latency, the alternatives and the ratios."""
    costs: dict[str, Any] = {}
    imports = {m: v["median_ms"] for m, v in (_get(results, "coldstart", "imports") or {}).items()}
    for latency in LATENCIES:
        result = results.get(f"cost-{latency}", {})
        functions = result.get("functions") or function_config()
        for mode in ("webhook", "polling"):
            entry = result.get(mode) if isinstance(result, dict) else None
            if entry and "per_image" in entry:
                costs[f"{mode}-{latency}"] = _cost_entry(
                    {**entry, "_command": result.get("_command")} if "_command" in result else entry,
                    functions,
                    imports or None,
                )
    out: dict[str, Any] = {"costs": costs, "designs": _designs(results), "fixed": _fixed(results)}
    short, long = results.get("cost-20", {}).get("polling"), results.get("cost-600", {}).get("polling")
    if short and long and "per_image" in short and "per_image" in long:
        split = split_polling(
            Usage.of(short["per_image"]),
            short["polls_per_image"],
            Usage.of(long["per_image"]),
            long["polls_per_image"],
        )
        alternatives: dict[str, Any] = {
            "base_per_image": split.base.as_dict(),
            "per_poll": split.per_poll.as_dict(),
        }
        for latency in LATENCIES:
            fixed = fixed_interval_design(split, latency).cost() * 1000
            sleeper = sleeping_lambda_design(split, latency).cost() * 1000
            row: dict[str, Any] = {
                "fixed_5s_per_1000": round(fixed, 4),
                "fixed_5s_polls": fixed_polls(latency),
                "sleeping_lambda_per_1000": round(sleeper, 4),
            }
            for mode in ("webhook", "polling"):
                ours = costs.get(f"{mode}-{latency}", {}).get("per_1000")
                if ours is not None:
                    row[f"{mode}_vs_fixed_5s"] = round(ours / fixed, 3)
                    row[f"{mode}_vs_sleeping_lambda"] = round(ours / sleeper, 3)
            alternatives[str(latency)] = row
        out["alternatives"] = alternatives
        # The local clock cannot compress processing time, so a run may poll a little less often than
        # the real schedule: the same usage with the real schedule's poll count.
        for latency in LATENCIES:
            run = results.get(f"cost-{latency}", {}).get("polling")
            key = f"polling-{latency}"
            if run and key in costs:
                missing = run["polls_per_image_real_schedule"] - run["polls_per_image"]
                real = Usage.of(run["per_image"]) + split.per_poll.scaled(missing)
                costs[key]["per_1000_real_schedule"] = round(real.cost() * 1000, 4)
    return out


def _fixed(results: dict[str, Any]) -> dict[str, Any]:
    """What the stack costs a month whatever the load (not work per image)."""
    idle = [
        r["sweeper_idle"]["per_month"]
        for r in results.values()
        if isinstance(r, dict) and "sweeper_idle" in r
    ]
    return {
        "sweeper_per_month": round(sorted(idle)[len(idle) // 2], 4) if idle else None,
        "sqs_idle_receives_per_month": round(idle_sqs_cost_per_month(), 4),
        "sqs_queues_polled": sqs_queues_polled(),
        "xray_reservoir_per_month_at_most": round(xray_reservoir_cost_per_month(), 2),
        "sampling": sampling_rule(),
    }


# ----------------------------------------------------------------------------- markdown
def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.4f}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _get(data: dict[str, Any], *path: Any) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def markdown(data: dict[str, Any]) -> str:
    s = data["scenarios"]
    summ = data["summary"]
    m = data["machine"]
    lines = [
        "# genjobs benchmarks",
        "",
        f"Generated {data['generated']} by `make bench{'-quick' if data['quick'] else ''}` "
        f"(`uv run python -m bench{' --quick' if data['quick'] else ''}`) on {m['cpus']} cores, "
        f"{m['platform']}, Python {m['python']}"
        + (f", load average {m['load_average_1_5_15']} when it ended" if "load_average_1_5_15" in m else "")
        + (
            f". Code: the working tree (HEAD {m['code']['commit']} when the report was written; scenarios "
            "re-run with `--only` measure the tree of their own time)"
            + (
                f" with uncommitted changes ({len(m['code']['uncommitted'])} files)"
                if m["code"]["uncommitted"]
                else ""
            )
            if "code" in m
            else ""
        )
        + ". Every figure below is measured by this run unless it says "
        "*model*; docs/bench.json has the raw counts. Local stack: moto 5.2.5 running the real template, "
        "state machine and handlers in one process, with the simulator as the provider.",
        "",
        "**How AWS work is counted.** `genjobs_local.metering` (off unless the bench enables it) counts, "
        "from the run itself, what AWS bills: every state entered and every Retry attempt (parent and "
        "Distributed Map children; moto keeps no history for children, so the hook keys each child's "
        "events itself) and one transition per child execution a Distributed Map starts; every Lambda "
        "invocation, its duration at the function's memory and architecture (from template.yaml) and an "
        "estimate of its INIT; every request moto dispatches (DynamoDB, SQS in 64 KB units, SNS, S3, "
        "Secrets Manager, Step Functions API); DynamoDB read/write units computed from item sizes by AWS's "
        "rules (1 KB writes, 4 KB strong / 8 KB eventual reads, transactions double, GSI writes added); "
        "every HTTP API request; the CloudWatch Logs bytes each function writes (captured from its stdout "
        "while it runs) plus Lambda's platform lines and the state machine's failure events; and X-Ray "
        "trace roots at the configured sampling. The app's `POST /jobs` is counted; the benchmark's own "
        "reads are not (it reads state in-process). The sweeper runs in the cost runs (every schedule "
        "minute): its work on a job's tasks is work per image; an idle pass is measured apart and is a "
        "fixed cost (below). `tests/e2e/test_metering_pin.py` checks the meter's transitions for one task "
        "in each waiting mode against a walk of statemachine/generation.asl.json.",
        "",
    ]
    lines += _targets(s, summ)
    lines += misses.section(s, summ)
    lines += report_costs.section(s, summ)
    lines += report_designs.section(s) or _alternatives(summ)
    lines += _overhead(s)
    lines += _cancel(s)
    lines += _scale(s)
    lines += _coldstart(s)
    lines += _throughput(s)
    lines += report_pipelines.section(s)
    lines += report_fairness.section(s)
    lines += report_live.section(s)
    lines += ["## Prices used", ""] + [f"- {k}: {v}" for k, v in SOURCES.items()] + [""]
    return "\n".join(lines)


def _targets(s: dict[str, Any], summ: dict[str, Any]) -> list[str]:
    costs = summ.get("costs", {})
    webhook = [costs[f"webhook-{lat}"]["per_1000"] for lat in LATENCIES if f"webhook-{lat}" in costs]
    polling60 = _get(costs, "polling-60", "per_1000")
    polling600 = _get(costs, "polling-600", "per_1000")
    ratios = [_get(s, "overhead", mode, "ratio") for mode in ("webhook", "polling")]
    poll_p99 = _get(s, "overhead", "polling", "delay_p99_s")
    web_p99 = _get(s, "overhead", "webhook", "delay_p99_wall_s")
    after = [_get(s, "cancel", mode, "submissions_after_cancel") for mode in ("polling", "webhook")]
    cancel_rows = []
    for mode in ("polling", "webhook"):
        c = _get(s, "cancel", mode) or {}
        if c:
            ok = (
                c.get("in_flight_at_cancel", 0) > 0
                and c.get("cancelled_at_provider") == c.get("in_flight_at_cancel")
                and (c.get("cancel_at_provider_max_s") or 0) <= c.get("one_wake_up_s", 0)
            )
            cancel_rows.append((mode, c, ok))
    created = _get(s, "scale", "creation") or {}
    big = max((int(k) for k in created if k.isdigit()), default=None)
    creation_ratio = created[str(big)]["ratio_to_1"] if big else None
    imports = _get(s, "coldstart", "imports") or {}
    slowest = max((v["median_ms"] for v in imports.values()), default=None)
    rows = [
        "## Targets",
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
        f"| AWS cost per 1,000 images, webhook mode, ≤ $0.040 at 20 s, 60 s and 10 min (sweeper on) | "
        f"{', '.join(_money(w) for w in webhook)} (20 s, 60 s, 10 min; median of 3 jobs) | "
        f"{_verdict(all(w <= TARGETS['webhook_cost'] for w in webhook) if webhook else None)} |",
        f"| AWS cost per 1,000 images, polling mode, ≤ $0.15 at 60 s | {_money(polling60)} | "
        f"{_verdict(polling60 <= TARGETS['polling_cost_60'] if polling60 is not None else None)} |",
        f"| AWS cost per 1,000 images, polling mode, ≤ $0.45 at 10 min | {_money(polling600)} | "
        f"{_verdict(polling600 <= TARGETS['polling_cost_600'] if polling600 is not None else None)} |",
        f"| makespan within 5% of ideal | webhook {ratios[0]}x, polling {ratios[1]}x | "
        f"{_verdict(all(r is not None and r <= TARGETS['makespan_ratio'] for r in ratios) if any(ratios) else None)} |",
        f"| p99 completion delay < one poll interval (polling) | {poll_p99} s (schedule) | "
        f"{_verdict(poll_p99 is not None and poll_p99 < 15 if poll_p99 is not None else None)} (the shortest "
        "interval, 15 s; the cap is 120 s) |",
        f"| p99 completion delay < 1 s (webhook) | {web_p99} s (wall) | "
        f"{_verdict(web_p99 < TARGETS['webhook_p99_s'] if web_p99 is not None else None)} |",
        f"| 0 submissions after a cancel | polling {after[0]}, webhook {after[1]} | "
        f"{_verdict(all(a == 0 for a in after) if None not in after else None)} |",
    ]
    for mode, c, ok in cancel_rows:
        rows.append(
            f"| in-flight tasks cancelled at the provider within one wake-up ({mode}) | "
            f"{c.get('cancelled_at_provider')} of {c.get('in_flight_at_cancel')} in flight, max "
            f"{c.get('cancel_at_provider_max_s')} s (one wake-up: {c.get('one_wake_up_s')} s) | {_verdict(ok)} |"
        )
    rows += [
        f"| creating a {big}-task job within 1.5x a 1-task job | {creation_ratio}x | "
        f"{_verdict(creation_ratio <= TARGETS['creation_ratio'] if creation_ratio else None)} |",
        f"| handler import < 300 ms each | slowest {slowest} ms | "
        f"{_verdict(slowest < TARGETS['import_ms'] if slowest else None)} |",
        *report_fairness.target_rows(s),
        "",
    ]
    return rows


def _alternatives(summ: dict[str, Any]) -> list[str]:
    alt = summ.get("alternatives")
    if not alt:
        return []
    per_poll = alt["per_poll"]
    lines = [
        "## 2. The designs a team would otherwise build (model from our measured counts)",
        "",
        "Our polling runs at 20 s and 10 min give the work of one poll (the difference divided by the "
        f"difference in polls): {per_poll['state_transitions']:.2f} transitions, "
        f"{per_poll['lambda_requests']:.2f} Lambda invocations, {per_poll['dynamodb_read_units']:.2f} read and "
        f"{per_poll['dynamodb_write_units']:.2f} write units per poll. The rest is the base work of an image. "
        "*Fixed 5 s polling in the state machine* = base + one such poll every 5 s, each costing the 3 "
        "transitions of the usual Wait -> status Task -> Choice loop (ours is 1: a Retry). *Sleeping Lambda* = "
        "base + one invocation lasting the whole latency at 128 MB arm64 (its status calls to the provider "
        "cost nothing on AWS; it holds one Lambda concurrency slot per image in flight, and is capped at "
        "900 s).",
        "",
        "| latency | fixed 5 s polling | sleeping Lambda | ours webhook | ratio to fixed / sleeper | ours polling | ratio to fixed / sleeper |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lat in LATENCIES:
        row = alt.get(str(lat), {})
        costs = summ.get("costs", {})
        lines.append(
            f"| {lat} s | {_money(row.get('fixed_5s_per_1000'))} ({row.get('fixed_5s_polls')} polls) | "
            f"{_money(row.get('sleeping_lambda_per_1000'))} | {_money(_get(costs, f'webhook-{lat}', 'per_1000'))} | "
            f"{row.get('webhook_vs_fixed_5s')} / {row.get('webhook_vs_sleeping_lambda')} | "
            f"{_money(_get(costs, f'polling-{lat}', 'per_1000'))} | "
            f"{row.get('polling_vs_fixed_5s')} / {row.get('polling_vs_sleeping_lambda')} |"
        )
    return [*lines, ""]


def _overhead(s: dict[str, Any]) -> list[str]:
    o = s.get("overhead")
    if not o or "webhook" not in o:
        return []
    lines = [
        "## 3. Orchestration overhead",
        "",
        "| mode | tasks / concurrency / latency | makespan | ideal | ratio | provider span | delay p50 / p99 (schedule s) | delay p50 / p99 (wall s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in ("webhook", "polling"):
        r = o[mode]
        lines.append(
            f"| {mode} | {r['tasks']} / {r['concurrency']} / {r['latency_s']} s | {r['makespan_s']} s | "
            f"{r['ideal_s']} s | {r['ratio']} | {r['provider_span_s']} s | {r['delay_p50_s']} / {r['delay_p99_s']} | "
            f"{r['delay_p50_wall_s']} / {r['delay_p99_wall_s']} |"
        )
    lines += [
        "",
        f"TIME_SCALE {o['webhook']['time_scale']}. Ideal = ceil(tasks / concurrency) x latency, the "
        "provider's own busy time. Delay = provider completion (simulator schedule) to the task's "
        "`finishedAt`. In schedule seconds, local processing (moto, in-process handlers on 2 cores) is "
        "stretched by 1/TIME_SCALE; the wall column is the local stack's actual processing time, which is "
        "what a webhook delay is made of (there is no wait in it).",
        "",
    ]
    return lines


def _cancel(s: dict[str, Any]) -> list[str]:
    c = s.get("cancel")
    if not c or "polling" not in c:
        return []
    lines = [
        "## 4. Cancel",
        "",
        "| mode | tasks / concurrency / latency | cancel at | submissions after the cancel response | in flight | cancelled at provider (max s) | finished instead | settled after | statuses |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in ("polling", "webhook"):
        r = c[mode]
        lines.append(
            f"| {mode} | {r['tasks']} / {r['concurrency']} / {r['latency_s']} s | {r['cancel_after_s']} s | "
            f"{r['submissions_after_cancel']} | {r['in_flight_at_cancel']} | {r['cancelled_at_provider']} "
            f"({r['cancel_at_provider_max_s']}) | {r['finished_at_provider_instead']} | {r['settled_after_s']} s | "
            f"{r['task_statuses']} |"
        )
    lines += ["", "Schedule seconds; the sweeper runs every 60 s (schedules on in this scenario).", ""]
    return lines


def _scale(s: dict[str, Any]) -> list[str]:
    sc = s.get("scale")
    if not sc or "creation" not in sc:
        return []
    lines = [
        "## 5. Scale",
        "",
        "| tasks | POST /jobs (median wall s) | samples | ratio to 1 task |",
        "| --- | --- | --- | --- |",
    ]
    for size, r in sc["creation"].items():
        lines.append(f"| {size} | {r['median_s']:.3f} | {len(r['samples_s'])} | {r['ratio_to_1']} |")
    b = s.get("bigjob") or {}
    if "tasks" not in b:
        lines += ["", f"10,000-task run: not measured ({b.get('error', 'not run')}).", ""]
    else:
        lines += [
            "",
            f"**{b['tasks']}-task job run to completion** (zero-latency simulator, concurrency 100): "
            f"{'finished' if b['finished'] else 'did NOT finish'} ({b['job_status']}, {b['tasks_ended']} "
            f"tasks ended) in {b['wall_s']} s ({b['tasks_per_s']} tasks/s); {b['state_transitions']} state "
            f"transitions. Largest history: parent {b['max_events']['parent']} events, child "
            f"{b['max_events']['child']} (+2 on AWS), against the {b['history_limit']:,} limit; largest "
            f"state payload {b['largest_payload_bytes']} bytes against {b['payload_limit']:,}."
            + (
                f" DynamoDB per task: {b['dynamodb_write_units_per_task']} write units, "
                f"{b['dynamodb_read_units_per_task']} read units"
                + (
                    f" (a {small['images']}-task polling job at 20 s: {small['per_image']['dynamodb_write_units']:.1f}"
                    f" and {small['per_image']['dynamodb_read_units']:.1f}; the job item every task step "
                    "reads and rewrites must stay small, so the 10,000-value plan is in S3)"
                    if (small := _get(s, "cost-20", "polling")) and "per_image" in small
                    else ""
                )
                + "."
                if "dynamodb_write_units_per_task" in b
                else ""
            )
            + (f" Failed tasks by error: {b['failed_by_error']}." if b.get("failed_by_error") else ""),
            "",
        ]
    cj = s.get("concurrent") or {}
    if "jobs" not in cj:
        return [*lines, f"Concurrent jobs: not measured ({cj.get('error', 'not run')}).", ""]
    lines += [
        f"**{cj['jobs']} concurrent jobs** ({cj['tasks_per_job']} tasks each, webhook mode, latency "
        f"{cj['latency_s']} s, TIME_SCALE {cj['time_scale']}, created from 20 threads): all ended: "
        f"{cj['all_ended']} {cj['statuses']}; POST /jobs p50 {cj['create_p50_s']} s, p99 {cj['create_p99_s']} s "
        f"(wall); last job ended {cj['makespan_s']} schedule s after the first request ({cj['wall_s']} s wall; "
        f"ideal {cj['ideal_s']} s).",
        "",
    ]
    return lines


def _coldstart(s: dict[str, Any]) -> list[str]:
    c = s.get("coldstart")
    if not c or "imports" not in c:
        return []
    lines = [
        "## 6. Cold start proxy",
        "",
        f"Import of each handler module in a fresh interpreter (Python {c['python']} here, 3.13 on Lambda; "
        "median of the samples), with where the time goes (sum of each package's own import time):",
        "",
        "| handler module | import ms (median) | heaviest packages (ms) |",
        "| --- | --- | --- |",
    ]
    for module, r in c["imports"].items():
        heavy = ", ".join(f"{name} {ms}" for name, ms in r["heaviest_ms"])
        lines.append(f"| `{module}` | {r['median_ms']} | {heavy} |")
    p = c["packages"]
    lines += [
        "",
        f"Packages ({p['source']}): function {p['function_zip_bytes'] / 1024:.0f} KiB zipped "
        f"({p['function_unzipped_bytes'] / 1024:.0f} KiB unzipped)"
        + (
            f"; layer {p['layer_zip_bytes'] / 1048576:.1f} MiB zipped ({p['layer_unzipped_bytes'] / 1048576:.1f} MiB "
            "unzipped, limit 250 MiB unzipped)."
            if "layer_zip_bytes" in p
            else "."
        ),
        "",
    ]
    return lines


def _throughput(s: dict[str, Any]) -> list[str]:
    t = s.get("throughput")
    if not t or "tasks_per_s" not in t:
        return []
    return [
        "## 7. Local runtime speed",
        "",
        f"{t['tasks']} tasks, concurrency {t['concurrency']}, zero-latency simulator: {t['wall_s']} s, "
        f"**{t['tasks_per_s']} tasks/s** through the whole local stack ({t['state_transitions_per_s']} state "
        f"transitions/s, {t['lambda_invocations_per_s']} Lambda invocations/s).",
        "",
    ]
