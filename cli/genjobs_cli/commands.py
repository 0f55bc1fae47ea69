"""One function per command: (parsed args, API) -> exit code. Output goes to stdout, trouble to stderr."""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genjobs_cli import live, render
from genjobs_cli.client import Api, ApiError, ExitCode, download
from genjobs_cli.jobspec import build_job_body, parse_json_object


def out(text: str) -> None:
    print(text, flush=True)


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def answer(args: argparse.Namespace, value: Any, text: Callable[[Any], str]) -> int:
    """Prints the API's answer: as JSON with --json, otherwise as `text` renders it for people."""
    out(render.as_json(value) if args.json else text(value))
    return ExitCode.OK


# ---- jobs ------------------------------------------------------------------------------------------
# create's flags (their names in args) and the build_job_body parameter each one fills
_SAME_NAMES = ("file", "provider", "model", "matrix", "count", "tasks_file", "collection", "concurrency")
JOB_BODY_FLAGS = {**{name: name for name in _SAME_NAMES}, "input": "input_json"}


def create(args: argparse.Namespace, api: Api) -> int:
    body = build_job_body(**{param: getattr(args, flag) for flag, param in JOB_BODY_FLAGS.items()})
    job = api.create_job(body, args.idempotency_key)
    if args.json and not args.watch:
        out(render.as_json(job))
        return ExitCode.OK
    if not args.json:
        out(render.plan_summary(job))
    if not args.watch:
        out(f"watch it: genjobs watch {job['jobId']}")
        return ExitCode.OK
    return watch_job(api, job["jobId"], interval=args.interval, as_json=args.json)


def watch(args: argparse.Namespace, api: Api) -> int:
    return watch_job(api, args.job_id, interval=args.interval, as_json=args.json)


def watch_job(api: Api, job_id: str, *, interval: float, as_json: bool = False) -> int:
    """Until the job ends: 0 when COMPLETED, 1 when FAILED or CANCELLED. Ctrl-C stops watching only."""
    display = render.ProgressDisplay()
    eta = render.ThroughputEta()
    channel = live.open_channel(api, job_id)  # redraws when the job changes; None: polls
    try:
        while True:
            job = api.job(job_id)
            eta.observe(time.monotonic(), render.work_done(job))
            if not as_json:
                display.show(render.watch_view(job, eta.eta(job["plan"]["taskCount"])))
            if job["status"] in render.TERMINAL:
                break
            live.wait_for_change(channel, interval)
    except KeyboardInterrupt:
        display.close()
        note(f"stopped watching; job {job_id} keeps running. Resume with: genjobs watch {job_id}")
        return ExitCode.INTERRUPTED
    finally:
        if channel is not None:
            channel.close()
    display.close()
    out(render.as_json(job) if as_json else render.settlement_summary(job))
    return ExitCode.OK if job["status"] == "COMPLETED" else ExitCode.JOB_UNSUCCESSFUL


def list_jobs(args: argparse.Namespace, api: Api) -> int:
    status = "active" if args.active else args.status
    jobs: list[dict[str, Any]] = []
    cursor = args.cursor
    while True:
        page = api.jobs_page(status=status, collection_id=args.collection, limit=args.limit, cursor=cursor)
        jobs.extend(page["items"])
        cursor = page.get("cursor")
        if not (args.all and cursor):
            break
    if args.json:
        out(render.as_json({"items": jobs, "cursor": cursor}))
    elif not jobs:
        out("no jobs")
    else:
        out(render.jobs_table(jobs))
        if cursor:
            out(f"(more: --all, or --cursor {cursor})")
    return ExitCode.OK


def get(args: argparse.Namespace, api: Api) -> int:
    return answer(args, api.job(args.job_id), render.job_detail)


def cancel(args: argparse.Namespace, api: Api) -> int:
    job = api.cancel(args.job_id)
    if not args.no_wait:
        if job["status"] not in render.TERMINAL and not args.json:
            note(f"cancelling {args.job_id}: finished tasks are kept, the rest refunded...")
        while job["status"] not in render.TERMINAL:
            time.sleep(args.interval)
            job = api.job(args.job_id)
    if args.json:
        out(render.as_json(job))
    elif job["status"] in render.TERMINAL:
        out(render.settlement_summary(job))
    else:
        out(f"job {args.job_id} {job['status']}; see the settlement with: genjobs get {args.job_id}")
    return ExitCode.OK


def pause(args: argparse.Namespace, api: Api) -> int:
    """Nothing new of the job is submitted; tasks already at a provider finish and are kept."""
    return answer(
        args,
        api.pause(args.job_id),
        lambda job: f"job {args.job_id} {job['status']}; continue it: genjobs resume {args.job_id}",
    )


def resume(args: argparse.Namespace, api: Api) -> int:
    return answer(
        args,
        api.resume(args.job_id),
        lambda job: f"job {args.job_id} {job['status']}; follow it: genjobs watch {args.job_id}",
    )


def retry(args: argparse.Namespace, api: Api) -> int:
    """Runs an ended job's failed (and with --include cancelled, its cancelled) tasks again."""
    include = ["failed", *(["cancelled"] if args.include == "cancelled" else [])]
    job = api.retry(args.job_id, include, args.idempotency_key)
    if args.json:
        out(render.as_json(job))
        return ExitCode.OK
    credits = job["credits"]
    # An ended job had nothing outstanding: what is now is this retry's reservation.
    reserved = credits["reserved"] - credits["charged"] - credits["refunded"]
    out(
        f"job {args.job_id} {job['status']} (retry {job['retries']}): {reserved} credits reserved "
        f"for the tasks it runs again; follow it: genjobs watch {args.job_id}"
    )
    return ExitCode.OK


def signal(args: argparse.Namespace, api: Api) -> int:
    """Answers a pipeline's signal step that waits for the app (e.g. approving a script)."""
    data = parse_json_object(args.data, "--data") if args.data is not None else None
    decision = "reject" if args.reject else "approve"
    return answer(
        args,
        api.signal(args.job_id, args.name, decision, data, args.reason),
        lambda _: (
            f"{decision} sent to step {args.name} of job {args.job_id}; follow it: genjobs watch {args.job_id}"
        ),
    )


def outputs(args: argparse.Namespace, api: Api) -> int:
    """Every task's outputs into --dir; a file already there with the expected size is not fetched again."""
    job = api.job(args.job_id)
    folder: Path = args.dir
    folder.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for task in api.tasks(args.job_id):
        for n, output in enumerate(task.get("outputs") or []):
            target = folder / output_name(task["index"], n, output["contentType"])
            if target.is_file() and target.stat().st_size == output["size"]:
                results.append(
                    {"task": task["index"], "path": str(target), "size": output["size"], "skipped": True}
                )
                continue
            size = download(output["url"], target)
            results.append({"task": task["index"], "path": str(target), "size": size, "skipped": False})
            if not args.json:
                out(f"task {task['index']}: {target} ({size} bytes)")
    skipped = sum(r["skipped"] for r in results)
    if args.json:
        out(render.as_json({"jobId": args.job_id, "status": job["status"], "files": results}))
    else:
        out(f"{len(results) - skipped} downloaded, {skipped} already there, in {folder}")
        if job["status"] not in render.TERMINAL:
            out(f"job is {job['status']}: run again later for the outputs still to come")
    return ExitCode.OK


def output_name(index: int, n: int, content_type: str) -> str:
    """`00007-0.png`: sorted by task, stable across runs (so reruns can skip what is there)."""
    ext = (
        mimetypes.guess_extension(content_type.split(";")[0].strip()) or "." + content_type.rsplit("/", 1)[-1]
    )
    return f"{index:05d}-{n}{ext}"


def events(args: argparse.Namespace, api: Api) -> int:
    items = list(api.events(args.job_id))
    return answer(args, {"items": items}, lambda _: render.events_table(items))


# ---- credits, plans and devices -----------------------------------------------------------------------
def credits(args: argparse.Namespace, api: Api) -> int:
    return answer(args, api.credits(), render.credits_table)


def grant(args: argparse.Namespace, api: Api) -> int:
    grant_id = args.grant_id or f"cli-{uuid.uuid4().hex}"
    result = api.grant(args.user_id, args.amount, grant_id, args.reason)
    if args.json:
        out(render.as_json(result))
        return ExitCode.OK
    if result["applied"]:
        out(f"granted {args.amount} credits to {args.user_id} (grant {grant_id})")
    else:
        out(f"grant {grant_id} was already applied to {args.user_id}; nothing changed")
    out(render.credits_table(result["balance"]))
    return ExitCode.OK


def plan(args: argparse.Namespace, api: Api) -> int:
    """The caller's plan, its use now and their credits."""
    return answer(args, api.me(), render.account_summary)


def plans(args: argparse.Namespace, api: Api) -> int:
    return answer(args, api.plans(), render.plans_tables)


def user(args: argparse.Namespace, api: Api) -> int:
    return answer(args, api.user(args.user_id), render.account_summary)


def set_plan(args: argparse.Namespace, api: Api) -> int:
    return answer(args, api.set_plan(args.user_id, args.plan), render.account_summary)


def device_register(args: argparse.Namespace, api: Api) -> int:
    return answer(
        args,
        api.register_device(args.platform, args.device_token),
        lambda device: f"registered {device['platform']} device {device['deviceId']}",
    )


def device_delete(args: argparse.Namespace, api: Api) -> int:
    api.delete_device(args.device_id)
    if not args.json:
        out(f"deleted device {args.device_id}")
    return ExitCode.OK


# ---- local stack (genjobs_local does the work) ------------------------------------------------------
def local(args: argparse.Namespace) -> int:
    """`genjobs local start|token|invoke ...` is `genjobs-local start|token|invoke ...`."""
    try:
        from genjobs_local import cli as local_cli
    except ImportError:
        note("error: `genjobs local` needs genjobs_local (the repository's environment: uv sync)")
        return ExitCode.USAGE
    state_dir = ["--state-dir", str(args.state_dir)] if args.state_dir else []
    return local_cli.main([*state_dir, args.local_command, *args.rest])


def failed(error: ApiError) -> int:
    note(render.problem_message(error))
    if error.status == 401:
        note("hint: the token is missing, expired or not for this API (--token or GENJOBS_TOKEN)")
    return error.exit_code
