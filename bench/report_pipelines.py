"""The report's pipelines section: Step Functions limits of a long chained pipeline, and seed 004's
makespan against the critical path of its provider times (bench.scenarios.pipelines)."""

from __future__ import annotations

import json
from typing import Any

from bench.models import poll_times
from bench.report_designs import line_item_rows
from bench.scenarios.pipelines import BACKGROUND_EXPECTED_S
from bench.usage import Usage


def _per_round(makespan: dict[str, Any]) -> float | None:
    """Parent history events one more round adds: step by step runs one round more than streamed."""
    runs = {mode: (makespan.get(mode) or {}).get("runs") or [] for mode in ("streamed", "step_by_step")}
    if not all(runs.values()):
        return None
    a, b = runs["streamed"][0], runs["step_by_step"][0]
    if b["rounds"] == a["rounds"]:
        return None
    return (b["parent_history_events_api"] - a["parent_history_events_api"]) / (b["rounds"] - a["rounds"])


def section(s: dict[str, Any]) -> list[str]:
    p = s.get("pipelines")
    if not p or "limits" not in p:
        return []
    lim, mk = p["limits"], p["makespan"]
    lines = [
        "## 8. Pipelines on Step Functions",
        "",
        "**What and how.** (1) Limits: pipelines of forEach steps chained over a static first step of "
        "`count` N sync tasks (sim-tts), every 5th step a webhook model (sim-image-webhook), the others "
        "sync, zero or 1 s simulated latency, job concurrency 100; the same with each step also `after` the "
        "one before (nothing chains: a round per step); and a fan-out of 1,000 with one sync step over all "
        "its outputs. The parent execution's history is read "
        "with Step Functions' GetExecutionHistory (moto) and counted by `genjobs_local.metering` (every "
        "event the interpreter adds); moto keeps no history for Distributed Map children, so child events "
        "come from the meter alone (AWS adds ExecutionStarted and ExecutionSucceeded: +2). The largest "
        "state payload is the longest `input`/`output` of any event of any execution, in UTF-8 bytes. "
        "(2) Makespan: seed 004's pipeline without approval (script -> per scene speech -> avatar, and "
        "background -> render over every scene) with fixed latencies given through each step's `sim` "
        "input, the last scene's background slow; makespan is the job item's `createdAt` to `finishedAt` "
        "in schedule seconds (wall / TIME_SCALE). *Step by step* is the same pipeline with "
        '`"after": ["speech"]` on avatar, which turns chaining off: every avatar waits for the round that '
        "runs all speech and every background.",
        "",
    ]
    lines += [
        "**20 steps x 1,000 items** (20,000 tasks) is within `MAX_PIPELINE_TASKS` (20,000), but runs for "
        "hours on the local stack (2 to 4 pipeline tasks/s on 2 cores): the runs below are what fits in minutes, "
        "and the extrapolation says what 20 x 1,000 writes.",
        "",
        "| run | tasks | status | wall s | tasks/s | rounds | parent events (API / meter) | largest child events | largest payload (bytes) | largest task input (bytes) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in lim["runs"]:
        lines.append(
            f"| {_label(r)} | {r['tasks']} | {r['job_status']} | {r['wall_s']} | {r['tasks_per_s']} | "
            f"{r['rounds']} | {r['parent_history_events_api']} / {r['max_events']['parent']} | "
            f"{r['max_events']['child']} | {r['largest_payload_bytes']} | {r.get('largest_task_input_bytes', '-')} |"
        )
    lines += _limits_text(lim, mk)
    items = p.get("script_items") or {}
    if items:
        lines += [
            "",
            f"**Items from a sync LLM step.** A script asked for {items['scenes_asked']} scenes answers "
            f"{items['script_json_bytes']:,} bytes of JSON; a task keeps a result up to "
            f"{items['result_limit_bytes']:,} bytes for later steps' templates, so its items were "
            f"{items['items_made']} and the job ended {items['job_status']} with its forEach step sized "
            f"{items['items_made']} (no error). The largest script of that document a task keeps has "
            f"{items['largest_script_kept_scenes']} scenes: 1,000 items per fan-out come only from a static "
            "step (`count`, `tasks`, `matrix`), as in the runs above.",
        ]
    cp = mk["critical_path"]
    lat = mk["latencies_s"]
    lines += [
        "",
        f"**Makespan vs critical path** ({mk['scenes']} scenes, TIME_SCALE {mk['time_scale']}, "
        f"{len((mk.get('streamed') or {}).get('runs') or [])} runs each). Latencies (schedule s): script "
        f"{lat['script']}, speech {lat['speech']}, avatar {lat['avatar']} (webhook), background "
        f"{lat['background']} (polled, first check at the model's expected 90 s), the last scene's background "
        f"{lat['slow_background']}, render the app's function (0 provider time). Critical path of provider "
        f"times: {cp['provider_s']} s; with the background's status checks on the real schedule "
        f"{cp['with_polls_s']:.1f} s; the step-by-step order's own critical path {cp['step_by_step_s']:.1f} s.",
        "",
        "| order | rounds | parent events | makespan min / median / max (schedule s) | median / critical path with polls | over its own critical path (median, wall s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    medians = {}
    ideal = {"streamed": cp["with_polls_s"], "step_by_step": cp["step_by_step_s"]}
    for mode, label in (("streamed", "streamed chains"), ("step_by_step", "step by step")):
        m = mk.get(mode) or {}
        span = m.get("makespan_s")
        first = (m.get("runs") or [{}])[0]
        if not span:
            lines.append(f"| {label} | {first.get('rounds')} | - | not completed | - | - |")
            continue
        medians[mode] = span["median"]
        over = (span["median"] - ideal[mode]) * mk["time_scale"]
        lines.append(
            f"| {label} | {first['rounds']} | {first['parent_history_events_api']} | {span['min']} / "
            f"{span['median']} / {span['max']} | {span['median'] / cp['with_polls_s']:.2f}x | "
            f"{over:.1f} |"
        )
    if len(medians) == 2:
        lines += [
            "",
            f"Streaming the chains saves {medians['step_by_step'] - medians['streamed']:.0f} schedule s "
            f"(medians); the two orders' critical paths differ by {cp['step_by_step_s'] - cp['with_polls_s']:.0f} s "
            "(the avatar's latency: step by step, every avatar waits for the round that runs the slow "
            "background). The rest of each makespan over its critical path is local processing (moto and "
            "in-process handlers on 2 "
            "shared cores, stretched by 1/TIME_SCALE in schedule seconds): the last column in wall seconds.",
        ]
    lines += _costs(p)
    return [*lines, ""]


def _costs(p: dict[str, Any]) -> list[str]:
    """AWS cost per 1,000 scenes of the video pipeline and per 1,000 images of the parallel stages."""
    mk = p.get("makespan") or {}
    columns: list[tuple[str, list[Usage]]] = []
    for mode, label in (
        ("streamed", "video, per scene (streamed)"),
        ("step_by_step", "video, per scene (step by step)"),
    ):
        runs = [
            r
            for r in (mk.get(mode) or {}).get("runs") or []
            if r.get("usage") and r["job_status"] == "COMPLETED"
        ]
        if runs:
            columns.append((label, [Usage(**r["usage"]).scaled(1 / mk["scenes"]) for r in runs]))
    st = p.get("stages") or {}
    if st.get("usage") and st.get("job_status") == "COMPLETED":
        columns.append(("parallel stages, per image", [Usage(**st["usage"]).scaled(1 / st["images"])]))
    if not columns:
        return []
    medians = [sorted(runs, key=Usage.cost)[len(runs) // 2] for _, runs in columns]
    lines = [
        "",
        f"**Cost per scene and per image** (every job metered alone from POST /jobs until quiet, as in "
        f"section 1). A scene of the video pipeline ({mk.get('scenes')} scenes) is its share of the script, "
        "its speech, avatar (webhook) and background (polled), and the render over all scenes (the app's own "
        "function, counted here as it runs on the same meter); the parallel stages are seed 002 "
        f"(examples/pipelines/stages.json: three independent stages of {st.get('images', 0) // 3} images of "
        f"the polled `sim-image`, latency {st.get('latency_s')} s, up to 100 in flight: the most a job may "
        "have). Per 1,000, the median run's line items; the total of every run below them.",
        "",
        "| per 1,000 | " + " | ".join(label for label, _ in columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    lines += line_item_rows(medians)
    totals = [
        " / ".join(f"${u.cost() * 1000:.4f}" for u in sorted(runs, key=Usage.cost)) for _, runs in columns
    ]
    lines.append("| **total** (each run, lowest first) | " + " | ".join(f"**{t}**" for t in totals) + " |")
    lines.append(
        "| state transitions / Lambda invocations / write units per unit | "
        + " | ".join(
            f"{u.state_transitions:.1f} / {u.lambda_requests:.1f} / {u.dynamodb_write_units:.1f}"
            for u in medians
        )
        + " |"
    )
    return lines


def _label(r: dict[str, Any]) -> str:
    steps = f"{r['steps']} step{'s' if r['steps'] > 1 else ''} x {r['items']} items"
    shape = r.get("shape", "chained")
    if shape == "after":
        return f"{steps}, not chained (each step `after` the one before)"
    if shape == "overall":
        return f"{steps}, then one step over all of them"
    return f"{steps}, chained"


def _limits_text(lim: dict[str, Any], mk: dict[str, Any]) -> list[str]:
    runs = [r for r in lim["runs"] if r["job_status"] == "COMPLETED"]
    if not runs:
        return []
    parent = max(r["parent_history_events_api"] for r in runs)
    deepest = max(runs, key=lambda r: r["rounds"])
    child = max(r["max_events"]["child"] for r in runs)
    payload = max(r["largest_payload_bytes"] for r in runs)
    one = min(runs, key=lambda r: r["rounds"])
    per_round = (
        (deepest["parent_history_events_api"] - one["parent_history_events_api"])
        / (deepest["rounds"] - one["rounds"])
        if deepest["rounds"] > one["rounds"]
        else _per_round(mk)
    )
    polled = max(
        (r["max_events"]["child"] for m in ("streamed", "step_by_step") for r in mk[m]["runs"]), default=0
    )
    checks = len(poll_times(mk["latencies_s"]["slow_background"], BACKGROUND_EXPECTED_S))
    rate = max(r["tasks_per_s"] for r in runs)
    lines = [
        "",
        f"**Against the limits** ({lim['history_limit']:,} events, {lim['payload_limit']:,} bytes): largest "
        f"parent history {parent} events ({deepest['rounds']} rounds), largest child {child} (+2 on AWS), "
        f"largest payload {payload:,} bytes. **Extrapolated to 20 steps x 1,000 items** (not run: 20,000 tasks "
        f"at the {rate} tasks/s this machine manages would take about {20_000 / rate / 3600:.1f} h): nothing "
        "in the parent's history counts items, only rounds: "
        + (f"{per_round:.0f}" if per_round else "a few")
        + f" events a round over the {one['parent_history_events_api']} of a one-round job, whether the Map "
        "runs 5 children or 1,000 (a round's events are the Map state's and PlanTasks', not its children's; "
        "an earlier run of this scenario, 1,000 items in one chained step, wrote the same 27 as 20 items: "
        "docs/bench.json at commit c20c5fa). "
        "An item's chain of token-answered links (sync, webhook, lambda, signal) runs "
        "in one child whose history does not grow with the chain (20 links above); a polled link ends its "
        "item's child, so the next link waits for the next round. Rounds are at most the depth of the step "
        f"graph, so a 20-step pipeline of 1,000 items writes at most the {deepest['parent_history_events_api']} "
        f"parent events measured for 20 rounds; its 1,000 items make 1,000 children of about {child + 2} "
        "events each, and a polled link's child grows by a few events per status check (the makespan runs' "
        f"slow background: {polled} events for {checks} checks). State payloads carry the job id, a task index "
        "and the manifest's key; items, inputs and results live in DynamoDB and S3.",
    ]
    for r in lim["runs"]:
        if r.get("shape") != "overall":
            continue
        by_status = r["tasks_by_status"]
        lines += [
            "",
            f"**A step over all of {r['items']:,} outputs** ({_label(r)}): the job ended {r['job_status']} with "
            f"tasks {by_status}. An `overAll` step's input lists every output's URL (a presigned URL is several "
            "hundred bytes), and planning writes that input into the task's DynamoDB item, which holds at most "
            f"400 KB: the largest task input written was {r.get('largest_task_input_bytes')} bytes"
            + (
                ", so the step over all of them was never planned: PlanTasks' write of its input was refused "
                "(ValidationException: item size exceeded) on every attempt, the Catch went to SettleJob, and "
                "that ended the step FAILED. Its failed attempts are in the parent's "
                f"{r['parent_history_events_api']} events, and its error is the largest payload "
                f"({r['largest_payload_bytes']:,} bytes)"
                if by_status.get("FAILED") and r.get("largest_task_input_bytes", 0) < 1000
                else ""
            )
            + ". Not the Step Functions limits: the history and payload stayed small.",
        ]
    return lines


def _detail(answer: str) -> str:
    try:
        return str(json.loads(answer).get("detail", answer))
    except ValueError:
        return answer
