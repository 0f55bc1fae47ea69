"""What the CLI prints: the progress bar with its ETA, tables, summaries and API errors."""

from __future__ import annotations

import json
import shutil
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any, TextIO

from genjobs_cli.client import ApiError

BAR_WIDTH = 30
STEP_BAR_WIDTH = 10
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


def finished_tasks(job: dict[str, Any]) -> int:
    counts = job["counts"]
    return int(counts["COMPLETED"] + counts["FAILED"] + counts["CANCELLED"])


def work_done(job: dict[str, Any]) -> float:
    """Tasks' worth of work done: ended tasks whole, running ones by their progress when the API knows it."""
    return max(float(finished_tasks(job)), float(job["progress"]) * job["plan"]["taskCount"] / 100)


class ThroughputEta:
    """Remaining time from the throughput (tasks' worth of work per second) over a sliding window."""

    def __init__(self, window_seconds: float = 60.0) -> None:
        self.window = window_seconds
        self.samples: deque[tuple[float, float]] = deque()

    def observe(self, now: float, done: float) -> None:
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()

    def rate(self) -> float | None:
        """Tasks' worth of work per second, or None until some progress was seen while watching."""
        if len(self.samples) < 2:
            return None
        (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        if t1 <= t0 or n1 <= n0:
            return None
        return (n1 - n0) / (t1 - t0)

    def eta(self, total: int) -> float | None:
        rate = self.rate()
        if rate is None:
            return None
        return max(0, total - self.samples[-1][1]) / rate


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(job: dict[str, Any], eta_seconds: float | None) -> str:
    """`[#####.....]  42.0%  PROCESSING  5/12 done 1 failed 0 cancelled  ETA 1m05s`"""
    percent = max(0.0, min(100.0, float(job["progress"])))
    filled = int(BAR_WIDTH * percent / 100)
    counts = job["counts"]
    eta = "" if job["status"] in TERMINAL else f"  ETA {duration(eta_seconds)}"
    return (
        f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:5.1f}%  {job['status']:<10}  "
        f"{counts['COMPLETED']}/{job['plan']['taskCount']} done  {counts['FAILED']} failed  "
        f"{counts['CANCELLED']} cancelled{eta}"
    )


def step_lines(job: dict[str, Any]) -> list[str]:
    """A pipeline's steps, one line each (none for a one-step job):
    `  speech      sync    5/10  [######....]  60.0%  done 3  running 2  waiting 0  credits 3 charged, 5 refunded`
    The size is `?` until a fan-out's items are known; failed, skipped and cancelled show when any."""
    steps = job.get("steps") or []
    if not steps:
        return []
    name_width = max(len(step["name"]) for step in steps)
    lines = []
    for step in steps:
        counts, credits = step["counts"], step["credits"]
        percent = max(0.0, min(100.0, float(step["progress"])))
        filled = int(STEP_BAR_WIDTH * percent / 100)
        size = "?" if step["size"] is None else str(step["size"])
        ended = "".join(
            f"  {word} {counts.get(status, 0)}"
            for word, status in (("failed", "FAILED"), ("skipped", "SKIPPED"), ("cancelled", "CANCELLED"))
            if counts.get(status, 0)
        )
        lines.append(
            f"  {step['name']:<{name_width}}  {step['kind']:<6}  {size:>3}/{step['maxSize']:<3}  "
            f"[{'#' * filled}{'.' * (STEP_BAR_WIDTH - filled)}] {percent:5.1f}%  done {counts['COMPLETED']}  "
            f"running {counts['PROCESSING']}  waiting {counts['PENDING']}{ended}  "
            f"credits {credits['charged']} charged, {credits['refunded']} refunded"
        )
    return lines


def watch_view(job: dict[str, Any], eta_seconds: float | None) -> str:
    """The job's progress line, then a pipeline's step lines under it."""
    return "\n".join([progress_line(job, eta_seconds), *step_lines(job)])


class ProgressDisplay:
    """On a terminal the view (a line, or a block of lines) redrawn in place; otherwise the view
    printed plainly whenever it changes."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.last = ""

    def show(self, view: str) -> None:
        if self.tty:
            self.stream.write(self._redraw(view))
        elif view != self.last:
            self.stream.write(view + "\n")
        self.stream.flush()
        self.last = view

    def _redraw(self, view: str) -> str:
        """Back to the start of the view shown last, then each line over the old one."""
        lines, shown = view.split("\n"), self.last.count("\n") + 1 if self.last else 1
        if len(lines) > 1 or shown > 1:
            # A wrapped line would throw the cursor-up count off: a block's lines fit the terminal.
            width = shutil.get_terminal_size().columns - 1
            lines = [line[:width] for line in lines]
        up = f"\x1b[{shown - 1}A" if shown > 1 else ""
        tail = "\x1b[J" if len(lines) < shown else ""  # clears the old view's extra lines
        return f"\r{up}" + "\n".join(f"{line}\x1b[K" for line in lines) + tail

    def close(self) -> None:
        """Ends the redrawn line so that what follows starts on a line of its own."""
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()
        self.last = ""


# ---- tables and summaries -------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def plan_summary(job: dict[str, Any]) -> str:
    plan = job["plan"]
    if job.get("steps"):
        return (
            f"job {job['jobId']}  {job['status']}\n"
            f"plan: {plural(len(job['steps']), 'step')}, at most {plural(plan['taskCount'], 'task')}"
            f" = {plural(plan['creditsReserved'], 'credit')} reserved (unused ones are released)"
        )
    return (
        f"job {job['jobId']}  {job['status']}\n"
        f"plan: {plural(plan['taskCount'], 'task')} x {plural(plan['unitPrice'], 'credit')}"
        f" = {plural(plan['creditsReserved'], 'credit')} reserved"
    )


def settlement_summary(job: dict[str, Any]) -> str:
    counts, credits = job["counts"], job["credits"]
    skipped = f", {counts.get('SKIPPED', 0)} skipped" if job.get("steps") else ""
    return (
        f"{job['status']}: kept {plural(counts['COMPLETED'], 'finished task')} "
        f"(charged {plural(credits['charged'], 'credit')}), refunded {plural(credits['refunded'], 'credit')}"
        f" ({counts['FAILED']} failed, {counts['CANCELLED']} cancelled{skipped})"
    )


def model_of(job: dict[str, Any]) -> str:
    """`provider/model` of a one-step job; a pipeline's models are per step."""
    steps = job.get("steps") or []
    return f"pipeline of {plural(len(steps), 'step')}" if steps else f"{job['provider']}/{job['model']}"


def jobs_table(jobs: Sequence[dict[str, Any]]) -> str:
    rows = [
        (
            j["jobId"],
            j["status"],
            model_of(j),
            f"{finished_tasks(j)}/{j['plan']['taskCount']}",
            f"{float(j['progress']):.0f}%",
            j.get("collectionId") or "-",
            j["createdAt"],
        )
        for j in jobs
    ]
    return table(("JOB", "STATUS", "MODEL", "TASKS", "PROGRESS", "COLLECTION", "CREATED"), rows)


def job_detail(job: dict[str, Any]) -> str:
    counts, credits, plan = job["counts"], job["credits"], job["plan"]
    lines = [
        f"job         {job['jobId']}",
        f"status      {job['status']}  ({float(job['progress']):.1f}%)",
        f"model       {model_of(job)}",
        f"collection  {job.get('collectionId') or '-'}",
        f"plan        {plural(plan['taskCount'], 'task')} x {plan['unitPrice']}, concurrency {job['concurrency']}",
        "tasks       " + "  ".join(f"{name.lower()} {n}" for name, n in counts.items()),
        f"credits     reserved {credits['reserved']}  charged {credits['charged']}  refunded {credits['refunded']}",
        f"created     {job['createdAt']}",
    ]
    if job.get("steps"):
        lines += ["steps", *step_lines(job)]
    for label, key in (
        ("started", "startedAt"),
        ("cancel asked", "cancelRequestedAt"),
        ("finished", "finishedAt"),
    ):
        if job.get(key):
            lines.append(f"{label:<12}{job[key]}")
    tasks = job.get("tasks") or []
    if tasks:
        where = ("STEP", "ITEM") if job.get("steps") else ()  # a pipeline's task: its step and item
        rows = [
            (
                t["index"],
                *(t[column.lower()] for column in where),
                t["status"],
                len(t.get("outputs") or []),
                t.get("error") or "",
            )
            for t in tasks
        ]
        lines += ["", table(("TASK", *where, "STATUS", "OUTPUTS", "ERROR"), rows)]
        if job.get("tasksCursor"):
            lines.append("(more tasks: `genjobs outputs` pages through all of them)")
    return "\n".join(lines)


def events_table(events: Sequence[dict[str, Any]]) -> str:
    rows = [
        (
            e["at"],
            e["kind"],
            "" if e.get("taskIndex") is None else e["taskIndex"],
            json.dumps(e.get("detail") or {}, separators=(",", ":")) if e.get("detail") else "",
        )
        for e in events
    ]
    return table(("AT", "EVENT", "TASK", "DETAIL"), rows)


def credits_table(balance: dict[str, Any]) -> str:
    names = ("available", "reserved", "charged", "granted")
    return table(names, [[balance[n] for n in names]])


def account_summary(account: dict[str, Any]) -> str:
    """A user's plan, its use now and their credits."""
    plan, balance = account["plan"], account["credits"]
    how = "assigned" if plan["assigned"] else "the default"
    return "\n".join(
        [
            f"user       {account['userId']}",
            f"plan       {plan['name']} ({how}), priority {plan['priority']}",
            f"in flight  {account['inFlight']} of {plural(plan['maxInFlight'], 'task')} at providers",
            "credits    "
            + "  ".join(f"{n} {balance[n]}" for n in ("available", "reserved", "charged", "granted")),
        ]
    )


def plans_tables(view: dict[str, Any]) -> str:
    """The configured plans (the default marked), then the provider limits in force."""
    plans = [
        (
            p["name"] + (" (default)" if p["name"] == view["defaultPlan"] else ""),
            p["maxInFlight"],
            p["priority"],
        )
        for p in view["plans"]
    ]
    limits = [
        (
            scope,
            _limit(entry["limits"]["concurrency"]),
            str(entry["limits"].get("reserve") or "-"),
            _limit(entry["limits"]["ratePerMinute"]),
        )
        for provider in view["providers"]
        for scope, entry in [
            (provider["provider"], provider),
            *((f"{provider['provider']}/{m['model']}", m) for m in provider["models"]),
        ]
    ]
    return "\n\n".join(
        [
            table(("PLAN", "MAX IN FLIGHT", "PRIORITY"), plans),
            table(("PROVIDER / MODEL", "CONCURRENCY", "KEPT FOR NEWCOMERS", "PER MINUTE"), limits),
        ]
    )


def _limit(value: int | None) -> str:
    return "-" if value is None else str(value)


def problem_message(error: ApiError) -> str:
    """`error: 422 Invalid request: count: ...` then one line per field error."""
    status = f"{error.status} " if error.status else ""
    lines = [f"error: {status}{error.title}" + (f": {error.detail}" if error.detail else "")]
    lines += [f"  - {e['field']}: {e['reason']}" for e in error.errors]
    return "\n".join(lines)
