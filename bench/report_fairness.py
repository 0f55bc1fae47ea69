"""The report's fair dispatch section: the same load in each DispatchMode side by side, and the targets
fair mode must meet (bench.scenarios.fairness)."""

from __future__ import annotations

from typing import Any

MODES = ("fifo", "fair")
TARGETS = {"b_ratio": 1.5}


SLOW = "fairness-slow"  # (a) again on a slower clock, where the provider is the bottleneck
# There also in fair mode with places of the burst model kept for newcomers (ProviderLimits' reserve).
RESERVE_MODE = "fair-reserve"
# (a) on the real clock in that mode alone, A's jobs waited for: what the reserve costs A.
RESERVE = "fairness-reserve"


def _part(s: dict[str, Any], mode: str, part: str, scenario: str = "fairness") -> dict[str, Any]:
    found = ((s.get(scenario) or {}).get("modes") or {}).get(mode, {}).get(part)
    return found if isinstance(found, dict) else {}


def _slow_ratio_met(r: dict[str, Any]) -> bool | None:
    """Every sample of B within the target, none left unended (an unended one is slower than any)."""
    ratio = r.get("b_ratio")
    if not ratio:
        return False if r.get("b_unended") else None
    return ratio["max"] <= TARGETS["b_ratio"] and not r.get("b_unended")


def _spread(value: dict[str, float] | None, unit: str = "") -> str:
    if not value:
        return "n/a"
    return " / ".join(f"{value[k]:g}{unit}" for k in ("min", "median", "max"))


def _na(value: Any) -> str:
    return "n/a" if value is None else str(value)


def _throughput(r: dict[str, Any]) -> str:
    if r.get("a_tasks_per_minute") is not None:
        return str(r["a_tasks_per_minute"])
    if r.get("a_tasks_per_minute_at_most") is not None:
        return f"at most {r['a_tasks_per_minute_at_most']} (A still running after {r.get('a_watched_s')} s)"
    return "n/a"


# B's phases (bench.scenarios.fairness.PHASES), in the order a task goes through them.
PHASE_LABELS = {
    "to_task": "to its task",
    "to_held": "to held",
    "held": "held",
    "to_submitted": "to submitted",
    "submitted_to_end": "at the provider to its end",
    "end_to_job_end": "to the job's end",
}


def _phases(r: dict[str, Any]) -> str:
    def one(found: dict[str, float] | None) -> str:
        return " / ".join(_na((found or {}).get(name)) for name in PHASE_LABELS)

    return f"alone {one(r.get('b_idle_phases'))}; while A runs {one(r.get('b_loaded_phases'))}"


def _busy(r: dict[str, Any]) -> str:
    share = r.get("a_provider_busy")
    return "n/a" if share is None else f"{share:.0%}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def verdicts(s: dict[str, Any]) -> dict[str, bool | None]:
    """Whether fair mode meets each target (None: not measured)."""
    burst, fifo_burst = _part(s, "fair", "burst"), _part(s, "fifo", "burst")
    limit, prio = _part(s, "fair", "limit"), _part(s, "fair", "priority")
    ratio = burst.get("b_ratio")
    ours, theirs = burst.get("a_tasks_per_minute"), fifo_burst.get("a_tasks_per_minute")
    # fifo's A still running when the part ended: its throughput is at most what it completed by then.
    theirs = theirs if theirs is not None else fifo_burst.get("a_tasks_per_minute_at_most")
    kept = _part(s, RESERVE_MODE, "burst", RESERVE)
    high, low = (prio.get(role) or {} for role in ("high", "low"))
    high_wait, low_wait = ((r.get("wait_s") or {}).get("median") for r in (high, low))
    return {
        # Every sample, not only the median: a user's one job is the unit of fairness.
        "b_ratio": ratio["max"] <= TARGETS["b_ratio"] if ratio else None,
        "a_throughput": ours >= theirs if ours is not None and theirs is not None else None,
        "limit": limit["peak_in_flight"] <= limit["limit"] if "peak_in_flight" in limit else None,
        "priority": high_wait < low_wait if high_wait is not None and low_wait is not None else None,
        "low_completes": low["completed"] == prio["tasks_per_user"] if low else None,
        "b_ratio_slow": _slow_ratio_met(_part(s, "fair", "burst", SLOW)),
        "b_ratio_reserve": _slow_ratio_met(_part(s, RESERVE_MODE, "burst", SLOW)),
        # The same burst on the real clock with the reserve, and A's throughput there against fifo's.
        "b_ratio_reserve_real": _slow_ratio_met(kept) if kept and "error" not in kept else None,
        "a_throughput_reserve": _at_least(kept, theirs),
    }


def _at_least(r: dict[str, Any], theirs: float | None) -> bool | None:
    """A's throughput in `r` not lower than `theirs`; A still running: missed when even the most it
    could have done is lower, unknown otherwise."""
    ours, most = r.get("a_tasks_per_minute"), r.get("a_tasks_per_minute_at_most")
    if theirs is None or (ours is None and most is None):
        return None
    if ours is not None:
        return bool(ours >= theirs)
    return None if most is not None and most >= theirs else False


def target_rows(s: dict[str, Any]) -> list[str]:
    """Rows of the report's targets table (empty when the scenario did not run)."""
    if "fairness" not in s:
        return []
    v = verdicts(s)
    fair, fifo = _part(s, "fair", "burst"), _part(s, "fifo", "burst")
    limit, prio = _part(s, "fair", "limit"), _part(s, "fair", "priority")
    high, low = prio.get("high") or {}, prio.get("low") or {}
    slow = []
    if SLOW in s:
        fair_slow, fifo_slow = _part(s, "fair", "burst", SLOW), _part(s, "fifo", "burst", SLOW)
        slow = [
            f"| fair dispatch, the same at a {_scale(s)} slower clock (the provider the bottleneck): "
            f"within 1.5x of idle | {_ratio(fair_slow)} (fifo {_ratio(fifo_slow)}) | "
            f"{_verdict(v['b_ratio_slow'])} |"
        ]
        kept = _part(s, RESERVE_MODE, "burst", SLOW)
        if kept:
            slow.append(
                f"| fair dispatch with {_kept(s, SLOW)} kept for users with nothing in flight, at the "
                f"{_scale(s)} slower clock: within 1.5x of idle | {_ratio(kept)} | "
                f"{_verdict(v['b_ratio_reserve'])} |"
            )
    return [
        f"| fair dispatch: a 1-task job while another user runs big jobs within 1.5x of idle | "
        f"{_spread(fair.get('b_ratio'), 'x')} (min / median / max; fifo {_spread(fifo.get('b_ratio'), 'x')}) | "
        f"{_verdict(v['b_ratio'])} |",
        *slow,
        f"| fair dispatch: the big jobs' throughput not lower than fifo's | {_throughput(fair)} "
        f"tasks/min (fifo {_throughput(fifo)}) | {_verdict(v['a_throughput'])} |",
        *_reserve_target_rows(s, v),
        f"| a provider limit of N never exceeded at the provider | peak {limit.get('peak_in_flight', 'n/a')} for "
        f"N = {limit.get('limit', 'n/a')} (fifo {_part(s, 'fifo', 'limit').get('peak_in_flight', 'n/a')}) | "
        f"{_verdict(v['limit'])} |",
        f"| capacity short: the higher plan's median wait lower, the lower plan completes | "
        f"{(high.get('wait_s') or {}).get('median', 'n/a')} s vs {(low.get('wait_s') or {}).get('median', 'n/a')} s; "
        f"{low.get('completed', 'n/a')} of {prio.get('tasks_per_user', 'n/a')} | "
        f"{_verdict(None if v['priority'] is None else bool(v['priority'] and v['low_completes']))} |",
    ]


def _reserve_target_rows(s: dict[str, Any], v: dict[str, bool | None]) -> list[str]:
    """The real clock's burst with a reserve (a run of its own), when it ran."""
    kept = _part(s, RESERVE_MODE, "burst", RESERVE)
    if not kept:
        return []
    fifo = _part(s, "fifo", "burst")
    return [
        f"| fair dispatch with {_kept(s, RESERVE)} kept for users with nothing in flight, real clock: "
        f"within 1.5x of idle | {_ratio(kept)} | {_verdict(v['b_ratio_reserve_real'])} |",
        f"| the same: the big jobs' throughput not lower than fifo's | {_throughput(kept)} tasks/min "
        f"(fifo {_throughput(fifo)}, in the run above) | {_verdict(v['a_throughput_reserve'])} |",
    ]


def _kept(s: dict[str, Any], scenario: str) -> str:
    sizes = (s.get(scenario) or {}).get("sizes") or {}
    return f"{sizes.get('reserve', 'n/a')} of the {sizes.get('capacity', 'n/a')} places"


def _scale(s: dict[str, Any]) -> str:
    scale = (s.get(SLOW) or {}).get("time_scale")
    return f"{scale:g}x" if scale else "n/a"


def _ratio(r: dict[str, Any]) -> str:
    """B's ratios (min / median / max), and how many of B's jobs had not ended at the part's end."""
    if not r:
        return "not measured"
    if "error" in r:
        return f"error: {r['error']}"
    unended = r.get("b_unended") or 0
    suffix = f"; {unended} of {len(r.get('b_loaded_s') or []) + unended} not ended" if unended else ""
    return f"{_spread(r.get('b_ratio'), 'x')}{suffix}"


def _row(label: str, cells: dict[str, str], target: str = "", verdict: str = "") -> str:
    return f"| {label} | {cells['fifo']} | {cells['fair']} | {target} | {verdict} |"


def _cells(s: dict[str, Any], part: str, show: Any, scenario: str = "fairness") -> dict[str, str]:
    out = {}
    for mode in MODES:
        found = _part(s, mode, part, scenario)
        out[mode] = (
            "not measured" if not found else (f"error: {found['error']}" if "error" in found else show(found))
        )
    return out


def _loaded(r: dict[str, Any]) -> str:
    during = r.get("b_ended_while_a_ran") or []
    return f"{_spread(r.get('b_loaded'))} ({sum(during)} of {len(during)} ended while A ran)"


def _counts(statuses: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))


def _plan(p: dict[str, Any], role: str) -> str:
    r = p.get(role) or {}
    return (
        f"{_spread(r.get('wait_s'), ' s')}; {r.get('completed')} completed, {r.get('failed')} failed "
        f"({r.get('job_status')})"
    )


def section(s: dict[str, Any]) -> list[str]:
    f = s.get("fairness")
    if not f or "modes" not in f:
        return (
            [] if not f else ["## 9. Fair dispatch", "", f"Not measured ({f.get('error', 'not run')}).", ""]
        )
    z, v, m, u = f["sizes"], verdicts(s), f["models"], f["users"]
    lines = [
        "## 9. Fair dispatch",
        "",
        f"**What and how.** One run, a stack per `DispatchMode` (fifo: every task submitted in queue order; "
        f"fair: admitted within its user's plan and its provider's limits), the same load on each, every task "
        f"{f['latency_s']:g} s at the simulator, TIME_SCALE {f['time_scale']:g} (the real clock), webhook "
        f"models. (a) User B's 1-task job ({m['burst']}) {z['b_samples']} times alone, then {z['b_samples']} "
        f"times while user A runs {z['a_jobs']} jobs of {z['a_tasks']} tasks at concurrency "
        f"{z['a_concurrency']}, both on `{u['burst_plan']}` (B's first {z['b_first_s']:g} s after A's jobs, then every {z['b_gap_s']:g} s); "
        f"the model's capacity is {z['capacity']} in flight at the provider (the simulator answers 429 beyond "
        "it in both modes; fair mode has it as ProviderLimits). B's time is its job item's `createdAt` to "
        "`finishedAt`, and its phases go from one record of the job to the next (its task created, held, "
        "admitted, submitted, ended; the job ended). A's throughput is A's completed tasks over its first "
        "creation to its last end (when A had not ended, at most its completed tasks over the time watched). "
        "The places A kept busy tell whether the provider was the bottleneck, as the targets presume. "
        f"(b) {z['limit_jobs']} concurrent 1-task jobs ({m['limit']}, from {u['limit_users']} users) with ProviderLimits "
        f"concurrency {z['limit']}; the simulator accepts everything and counts its peak in flight. (c) A "
        f"`{u['low_plan']}` user's job of {z['priority_tasks']} tasks, then a `{u['high_plan']}` user's, on "
        f"{m['priority']} with capacity {z['priority_capacity']} (refused beyond, as in (a)); a task's wait is "
        "its job's creation to its `submittedAt`. Plans: "
        + ", ".join(
            f"{name} (in flight ≤ {p['maxInFlight']}, priority {p['priority']})"
            for name, p in f["plans"].items()
        )
        + f". Seconds are schedule seconds. Command: `{f.get('_command', 'uv run python -m bench --only fairness')}`"
        f"{' (a --quick run: small sizes)' if '--quick' in str(f.get('_command')) else ''}.",
        "",
        "| measure | fifo | fair | target (fair) | verdict |",
        "| --- | --- | --- | --- | --- |",
        _row(
            "(a) B's job alone, s (min / median / max)",
            _cells(s, "burst", lambda r: _spread(r.get("b_idle"))),
        ),
        _row("(a) B's job while A runs, s", _cells(s, "burst", _loaded)),
        _row(
            "(a) B's job while A runs, over its median alone",
            _cells(s, "burst", lambda r: _spread(r.get("b_ratio"), "x")),
            f"≤ {TARGETS['b_ratio']}x every sample",
            _verdict(v["b_ratio"]),
        ),
        _row(
            "(a) A's throughput, tasks / min",
            _cells(s, "burst", _throughput),
            "≥ fifo's",
            _verdict(v["a_throughput"]),
        ),
        _row(
            "(a) where B's job's time went, median s: "
            + " / ".join(PHASE_LABELS.values())
            + " (n/a: a phase it did not go through)",
            _cells(s, "burst", _phases),
        ),
        _row(
            f"(a) the provider's places A kept busy (A's completed tasks times {f['latency_s']:g} s, over the capacity times A's span)",
            _cells(s, "burst", _busy),
        ),
        _row(
            "(a) A's tasks completed / failed of all; A's span, s; A's jobs",
            _cells(
                s,
                "burst",
                lambda r: (
                    f"{r['a_completed']} / {r['a_failed']} of {r['a_tasks']}; {_na(r['a_makespan_s'])}; "
                    f"jobs {_counts(r['a_statuses'])}"
                ),
            ),
        ),
        _row(
            "(a) at the provider: peak in flight; creates refused (429)",
            _cells(
                s,
                "burst",
                lambda r: f"{r['peak_in_flight']} (capacity {z['capacity']}); {r['over_capacity_429']}",
            ),
        ),
        *_real_reserve_rows(s, v),
        *_slow_rows(s, v),
        _row(
            "(b) peak in flight at the provider",
            _cells(s, "limit", lambda r: f"{r['peak_in_flight']} (N = {r['limit']})"),
            "≤ N",
            _verdict(v["limit"]),
        ),
        _row(
            "(b) jobs' statuses; last end, s (ideal at N)",
            _cells(s, "limit", lambda r: f"{_counts(r['statuses'])}; {r['makespan_s']} ({r['ideal_s']:g})"),
        ),
        _row(
            "(c) higher plan: wait s (min / median / max); outcome",
            _cells(s, "priority", lambda r: _plan(r, "high")),
            "median below the lower plan's",
            _verdict(v["priority"]),
        ),
        _row(
            "(c) lower plan: wait s; outcome",
            _cells(s, "priority", lambda r: _plan(r, "low")),
            "all completed",
            _verdict(v["low_completes"]),
        ),
        _row(
            "(c) creates refused at the provider (429)",
            _cells(s, "priority", lambda r: str(r["over_capacity_429"])),
        ),
        "",
    ]
    return lines


def _fair_row(r: dict[str, Any], label: str, show: Any, target: str = "", verdict: str = "") -> str:
    """A row of a run in fair mode only (fifo has no reserve): its cell in the fair column."""
    cell = f"error: {r['error']}" if "error" in r else show(r)
    return _row(label, {"fifo": "n/a", "fair": cell}, target, verdict)


def _b_rows(r: dict[str, Any], at: str, met: bool | None) -> list[str]:
    """B's times alone and under load, and their ratio judged against the target, fair column."""
    return [
        _fair_row(r, f"{at}: B's job alone, s", lambda r: _spread(r.get("b_idle"))),
        _fair_row(r, f"{at}: B's job while A runs, s", _loaded),
        _fair_row(
            r,
            f"{at}: B's job while A runs, over its median alone",
            _ratio,
            f"≤ {TARGETS['b_ratio']}x every sample",
            _verdict(met),
        ),
    ]


def _real_reserve_rows(s: dict[str, Any], v: dict[str, bool | None]) -> list[str]:
    """(a*) the burst again on the real clock, fair with a reserve, in a run of its own; fair column."""
    f = s.get(RESERVE)
    r = _part(s, RESERVE_MODE, "burst", RESERVE)
    if not f:
        return []
    at = (
        f"(a*) the same, fair with {_kept(s, RESERVE)} kept for users with nothing in flight "
        f"(a run of its own: `{f.get('_command', '')}`)"
    )
    if not r:
        return [_row(f"{at}: not measured ({f.get('error', 'not run')})", dict.fromkeys(MODES, ""))]

    def row(label: str, show: Any, target: str = "", verdict: str = "") -> str:
        return _fair_row(r, f"{at}: {label}", show, target, verdict)

    return [
        *_b_rows(r, at, v["b_ratio_reserve_real"]),
        row(
            "A's throughput, tasks / min",
            _throughput,
            "≥ fifo's (above)",
            _verdict(v["a_throughput_reserve"]),
        ),
        row("where B's job's time went, median s (as above)", _phases),
        row("the provider's places A kept busy", _busy),
        row(
            "A's tasks completed / failed of all; A's span, s; A's jobs",
            lambda r: (
                f"{r['a_completed']} / {r['a_failed']} of {r['a_tasks']}; {_na(r['a_makespan_s'])}; "
                f"jobs {_counts(r['a_statuses'])}"
            ),
        ),
        row(
            "at the provider: peak in flight; creates refused (429)",
            lambda r: f"{r['peak_in_flight']}; {r['over_capacity_429']}",
        ),
    ]


def _slow_rows(s: dict[str, Any], v: dict[str, bool | None]) -> list[str]:
    """(a) again at the slower clock (bench.scenarios.fairness.SLOW_SCALE), when it ran."""
    f = s.get(SLOW)
    if not f:
        return []
    if "modes" not in f:
        return [
            _row(
                f"(a') at a slower clock: not measured ({f.get('error', 'not run')})",
                dict.fromkeys(MODES, ""),
            )
        ]
    at = f"(a') at a {_scale(s)} slower clock"
    return [
        _row(
            f"{at} (TIME_SCALE {f['time_scale']:g}: the stack's processing a tenth of what it is above, each "
            f"task still {f['latency_s']:g} s at the provider; A not waited for; `{f.get('_command', '')}`): "
            "B's job alone, s",
            _cells(s, "burst", lambda r: _spread(r.get("b_idle")), SLOW),
        ),
        _row(f"{at}: B's job while A runs, s", _cells(s, "burst", _loaded, SLOW)),
        _row(
            f"{at}: B's job while A runs, over its median alone",
            _cells(s, "burst", _ratio, SLOW),
            f"≤ {TARGETS['b_ratio']}x every sample",
            _verdict(v["b_ratio_slow"]),
        ),
        _row(
            f"{at}: where B's job's time went, median s (as above)",
            _cells(s, "burst", _phases, SLOW),
        ),
        _row(
            f"{at}: the provider's places A kept busy while B's jobs ran; A's tasks completed then",
            _cells(s, "burst", lambda r: f"{_busy(r)}; {r['a_completed']} of {r['a_tasks']}", SLOW),
        ),
        *_reserve_rows(s, v),
    ]


def _reserve_rows(s: dict[str, Any], v: dict[str, bool | None]) -> list[str]:
    """(a'') fair mode with a reserve, in the fair column (fifo has none), when it ran."""
    r = _part(s, RESERVE_MODE, "burst", SLOW)
    if not r:
        return []
    kept = f"(a'') the same, fair with {_kept(s, SLOW)} kept for users with nothing in flight"

    return [
        *_b_rows(r, kept, v["b_ratio_reserve"]),
        _fair_row(r, f"{kept}: where B's job's time went, median s (as above)", _phases),
        _fair_row(
            r,
            f"{kept}: the provider's places A kept busy while B's jobs ran; A's tasks completed then",
            lambda r: f"{_busy(r)}; {r['a_completed']} of {r['a_tasks']}",
        ),
    ]
