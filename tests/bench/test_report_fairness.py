"""The fair dispatch section shows both modes side by side and judges fair mode against the targets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench import report_fairness

pytestmark = [pytest.mark.unit]

COMMAND = "uv run python -m bench --only fairness"


def _spread(low: float, mid: float, high: float) -> dict[str, float]:
    return {"min": low, "median": mid, "max": high}


def _plan(wait: float, completed: int, failed: int = 0) -> dict[str, Any]:
    return {
        "plan": "free",
        "priority": 0,
        "job_status": "COMPLETED" if not failed else "FAILED",
        "completed": completed,
        "failed": failed,
        "submitted": completed + failed,
        "wait_s": _spread(wait / 2, wait, wait * 2),
        "makespan_s": wait + 5,
    }


def _mode(b_ratio: dict[str, float], a_rate: float, peak: int, high: float, low: float) -> dict[str, Any]:
    return {
        "burst": {
            "b_idle": _spread(4.8, 5.0, 5.1),
            "b_loaded": _spread(5.0, 6.0, 7.0),
            "b_ratio": b_ratio,
            "b_ended_while_a_ran": [True, True, False],
            "a_tasks": 900,
            "a_completed": 900,
            "a_failed": 0,
            "a_statuses": {"COMPLETED": 3},
            "a_makespan_s": 100.0,
            "a_tasks_per_minute": a_rate,
            "peak_in_flight": 100,
            "over_capacity_429": 0,
        },
        "limit": {
            "limit": 10,
            "peak_in_flight": peak,
            "statuses": {"COMPLETED": 200},
            "makespan_s": 110.0,
            "ideal_s": 100.0,
        },
        "priority": {
            "tasks_per_user": 20,
            "capacity": 5,
            "high": _plan(high, 20),
            "low": _plan(low, 20),
            "over_capacity_429": 0,
        },
    }


def _scenarios() -> dict[str, Any]:
    """fifo: B 9x slower under load, the limit overrun, the low plan first; fair meets every target."""
    return {
        "fairness": {
            "sizes": {
                "a_jobs": 3,
                "a_tasks": 300,
                "a_concurrency": 100,
                "capacity": 100,
                "b_samples": 3,
                "b_first_s": 2,
                "b_gap_s": 20,
                "limit_jobs": 200,
                "limit": 10,
                "priority_tasks": 20,
                "priority_capacity": 5,
            },
            "latency_s": 5.0,
            "time_scale": 1.0,
            "models": {"burst": "sim-image-webhook", "limit": "sim-video", "priority": "sim-avatar"},
            "plans": {
                "free": {"maxInFlight": 20, "priority": 0},
                "pro": {"maxInFlight": 400, "priority": 20},
            },
            "users": {"burst_plan": "pro", "low_plan": "free", "high_plan": "pro", "limit_users": 4},
            "modes": {
                "fifo": _mode(_spread(8.0, 9.4, 9.9), 540.0, 57, high=30.0, low=2.0),
                "fair": _mode(_spread(1.0, 1.2, 1.4), 550.0, 10, high=3.0, low=25.0),
            },
            "_command": COMMAND,
        },
        # (a) again on a slower clock: fair within the target, fifo far over it with one B unended
        "fairness-slow": {
            "sizes": {"capacity": 10, "reserve": 1},
            "latency_s": 5.0,
            "time_scale": 10.0,
            "modes": {
                "fifo": {"burst": _slow_burst([5.1, 5.2, 5.2], [20.6, 31.2], unended=1)},
                "fair": {"burst": _slow_burst([5.1, 5.2, 5.2], [5.2, 6.2, 7.1])},
                "fair-reserve": {"burst": _slow_burst([5.1, 5.2, 5.2], [5.3, 5.4, 5.5])},
            },
            "_command": "uv run python -m bench --only fairness-slow",
        },
        # (a) on the real clock, fair with a reserve, in a run of its own: B within 1.5x, A's rate above fifo's
        "fairness-reserve": {
            "sizes": {"capacity": 10, "reserve": 1},
            "latency_s": 5.0,
            "time_scale": 1.0,
            "modes": {"fair-reserve": {"burst": _real_burst(_spread(1.1, 1.2, 1.3), 545.0)}},
            "_command": "uv run python -m bench --only fairness-reserve",
        },
    }


def _real_burst(b_ratio: dict[str, float], a_rate: float) -> dict[str, Any]:
    """A burst part that waited for A's jobs, as bench.scenarios.fairness.burst records it."""
    return _mode(b_ratio, a_rate, 10, 1.0, 2.0)["burst"] | {"b_unended": 0, "a_provider_busy": 0.4}


def _slow_burst(idle: list[float], loaded: list[float], unended: int = 0) -> dict[str, Any]:
    """A burst part that did not wait for A's jobs, as bench.scenarios.fairness.burst records it."""
    median = sorted(idle)[1]
    ratios = [round(x / median, 2) for x in loaded]
    return {
        "all_ended": not unended,
        "a_waited_for": False,
        "b_unended": unended,
        "b_idle_s": idle,
        "b_loaded_s": loaded,
        "b_ended_while_a_ran": [True] * len(loaded),
        "b_idle": _spread(min(idle), median, max(idle)),
        "b_loaded": _spread(min(loaded), sorted(loaded)[len(loaded) // 2], max(loaded)),
        "b_ratio": _spread(min(ratios), sorted(ratios)[len(ratios) // 2], max(ratios)),
        "b_idle_phases": {
            "to_task": 0.1,
            "to_submitted": 0.04,
            "submitted_to_end": 5.0,
            "end_to_job_end": 0.05,
        },
        "b_loaded_phases": {"to_task": 0.1, "to_held": 0.2, "held": 0.9, "to_submitted": 0.04},
        "a_tasks": 900,
        "a_completed": 79,
        "a_failed": 0,
        "a_provider_busy": 0.83,
    }


def _row(lines: list[str], start: str) -> list[str]:
    found = [line for line in lines if line.startswith(f"| {start}")]
    assert len(found) == 1, start
    return [cell.strip() for cell in found[0].strip("|").split(" | ")]


def test_both_modes_are_side_by_side_with_the_targets_met_by_fair_mode() -> None:
    # WHEN the section is rendered from a run where fair mode meets every target
    lines = report_fairness.section(_scenarios())
    # THEN each measure shows fifo then fair, the target and the verdict
    assert _row(lines, "(a) B's job while A runs, over") == [
        "(a) B's job while A runs, over its median alone",
        "8x / 9.4x / 9.9x",
        "1x / 1.2x / 1.4x",
        "≤ 1.5x every sample",
        "met",
    ]
    assert _row(lines, "(b) peak in flight")[1:] == ["57 (N = 10)", "10 (N = 10)", "≤ N", "met"]
    assert _row(lines, "(a) A's throughput")[1:] == ["540.0", "550.0", "≥ fifo's", "met"]
    assert _row(lines, "(a) B's job while A runs, s")[2] == "5 / 6 / 7 (2 of 3 ended while A ran)"
    assert _row(lines, "(b) jobs' statuses")[2] == "200 COMPLETED; 110.0 (100)"
    assert _row(lines, "(a) A's tasks")[2] == "900 / 0 of 900; 100.0; jobs 3 COMPLETED"
    assert _row(lines, "(c) higher plan")[-1] == "met"
    assert _row(lines, "(c) lower plan")[-1] == "met"
    # AND the command that produced the figures is given
    assert any(f"`{COMMAND}`" in line for line in lines)
    # AND the targets table gets one row per target, all met
    rows = report_fairness.target_rows(_scenarios())
    assert len(rows) == 8
    assert all(row.endswith("| met |") for row in rows)


@pytest.mark.parametrize(
    ("change", "target"),
    [
        # One sample of B over 1.5x is a miss even when the median is within it.
        (lambda fair: fair["burst"].update(b_ratio=_spread(1.0, 1.2, 1.6)), "b_ratio"),
        (lambda fair: fair["burst"].update(a_tasks_per_minute=539.0), "a_throughput"),
        (lambda fair: fair["limit"].update(peak_in_flight=11), "limit"),
        (lambda fair: fair["priority"].update(high=_plan(26.0, 20)), "priority"),
        (lambda fair: fair["priority"].update(low=_plan(25.0, 19, failed=1)), "low_completes"),
    ],
)
def test_fair_mode_missing_a_target_is_reported_missed(change: Any, target: str) -> None:
    # GIVEN a run where fair mode misses one target
    scenarios = copy.deepcopy(_scenarios())
    change(scenarios["fairness"]["modes"]["fair"])
    # THEN that target, and only that one, is missed
    verdicts = report_fairness.verdicts(scenarios)
    assert [name for name, ok in verdicts.items() if not ok] == [target]
    assert sum("**missed**" in row for row in report_fairness.target_rows(scenarios)) == 1


def test_fifo_overrunning_the_limit_is_shown_but_does_not_fail_the_target() -> None:
    # fifo has no provider limits: its overrun is the comparison, not a miss
    assert report_fairness.verdicts(_scenarios())["limit"] is True
    assert "fifo 57" in report_fairness.target_rows(_scenarios())[6]


def test_a_part_that_failed_shows_its_error_and_the_others_still_render() -> None:
    scenarios = copy.deepcopy(_scenarios())
    scenarios["fairness"]["modes"]["fair"]["limit"] = {"error": "TimeoutError: 3 jobs not ended"}
    lines = report_fairness.section(scenarios)
    assert _row(lines, "(b) peak in flight")[1:] == [
        "57 (N = 10)",
        "error: TimeoutError: 3 jobs not ended",
        "≤ N",
        "n/a",
    ]
    assert _row(lines, "(a) A's throughput")[-1] == "met"
    assert "| peak n/a for N = n/a (fifo 57) | n/a |" in report_fairness.target_rows(scenarios)[6]


def test_no_section_and_no_target_rows_when_the_scenario_did_not_run() -> None:
    assert report_fairness.section({}) == []
    assert report_fairness.target_rows({}) == []
    failed = {"fairness": {"error": "exit 1", "log_tail": "..."}}
    assert report_fairness.section(failed)[2] == "Not measured (exit 1)."


def test_a_fifo_run_whose_big_jobs_had_not_ended_is_judged_by_the_most_it_could_have_done() -> None:
    # GIVEN fifo's A still running when its part ended: 858 tasks completed in the 1,800 s watched
    s = _scenarios()
    fifo = s["fairness"]["modes"]["fifo"]["burst"]
    fifo.update(a_tasks_per_minute=None, a_tasks_per_minute_at_most=28.6, a_watched_s=1800.0)
    for fair_rate, verdict in ((52.1, "met"), (20.0, "**missed**")):
        s["fairness"]["modes"]["fair"]["burst"]["a_tasks_per_minute"] = fair_rate
        # WHEN the section is rendered
        row = _row(report_fairness.section(s), "(a) A's throughput")
        # THEN fifo's cell says it is a bound, and fair mode is judged against that bound
        assert row[1] == "at most 28.6 (A still running after 1800.0 s)"
        assert row[3:] == ["≥ fifo's", verdict]


def test_where_b_s_time_went_is_shown_phase_by_phase_alone_and_under_load() -> None:
    # GIVEN B held for a place only under load, and the provider's places A kept busy
    s = _scenarios()
    burst = s["fairness"]["modes"]["fair"]["burst"]
    burst["b_idle_phases"] = {
        "to_task": 0.3,
        "to_submitted": 0.3,
        "submitted_to_end": 5.1,
        "end_to_job_end": 0.2,
    }
    burst["b_loaded_phases"] = {
        "to_task": 2.9,
        "to_held": 4.7,
        "held": 4.9,
        "to_submitted": 1.2,
        "submitted_to_end": 7.3,
        "end_to_job_end": 3.1,
    }
    burst["a_provider_busy"] = 0.434
    lines = report_fairness.section(s)
    # THEN each phase's median is in order, n/a where B did not go through it
    assert _row(lines, "(a) where B's job's time went")[2] == (
        "alone 0.3 / n/a / n/a / 0.3 / 5.1 / 0.2; while A runs 2.9 / 4.7 / 4.9 / 1.2 / 7.3 / 3.1"
    )
    # AND the provider's places in use say whether the provider was the bottleneck
    assert _row(lines, "(a) the provider's places A kept busy")[2] == "43%"


def test_the_burst_on_a_slower_clock_is_shown_beside_the_real_one_and_judged_on_its_own() -> None:
    # WHEN the section is rendered from a run with the burst also on a 10x slower clock
    s = _scenarios()
    lines = report_fairness.section(s)
    # THEN its rows follow (a)'s, fifo then fair, an unended B counted rather than dropped
    assert _row(lines, "(a') at a 10x slower clock: B's job while A runs, over")[1:] == [
        "3.96x / 6x / 6x; 1 of 3 not ended",
        "1x / 1.19x / 1.37x",
        "≤ 1.5x every sample",
        "met",
    ]
    assert _row(lines, "(a') at a 10x slower clock: the provider's places")[2] == "83%; 79 of 900"
    assert _row(lines, "(a') at a 10x slower clock: where")[2].endswith("0.1 / 0.2 / 0.9 / 0.04 / n/a / n/a")
    # AND the targets table has its own row for it, next to the real clock's
    row = report_fairness.target_rows(s)[1]
    assert "10x slower clock" in row
    assert row.endswith("| 1x / 1.19x / 1.37x (fifo 3.96x / 6x / 6x; 1 of 3 not ended) | met |")


def test_on_the_slower_clock_a_b_that_never_ended_is_a_miss() -> None:
    # GIVEN fair mode's B within 1.5x in the samples that ended, but one that had not ended
    s = _scenarios()
    s["fairness-slow"]["modes"]["fair"]["burst"] = _slow_burst([5.1, 5.2, 5.2], [5.2, 6.2], unended=1)
    # THEN the slower clock's target is missed, and only it
    verdicts = report_fairness.verdicts(s)
    assert [name for name, ok in verdicts.items() if not ok] == ["b_ratio_slow"]
    assert "**missed**" in report_fairness.target_rows(s)[1]


def test_without_the_slower_clock_run_there_are_no_rows_for_it() -> None:
    s = _scenarios()
    del s["fairness-slow"]
    assert not any(line.startswith("| (a')") for line in report_fairness.section(s))
    assert len(report_fairness.target_rows(s)) == 6
    assert report_fairness.verdicts(s)["b_ratio_slow"] is None


def test_fair_mode_with_a_reserve_is_shown_in_the_fair_column_and_judged_on_its_own() -> None:
    # WHEN the section is rendered from a slower-clock run that also ran fair mode with a reserve
    s = _scenarios()
    lines = report_fairness.section(s)
    # THEN its rows follow the slower clock's, in the fair column (fifo keeps no places)
    kept = "(a'') the same, fair with 1 of the 10 places kept for users with nothing in flight"
    assert _row(lines, f"{kept}: B's job while A runs, over")[1:] == [
        "n/a",
        "1.02x / 1.04x / 1.06x",
        "≤ 1.5x every sample",
        "met",
    ]
    assert _row(lines, f"{kept}: the provider's places")[1:3] == ["n/a", "83%; 79 of 900"]
    # AND the targets table has a row for it after the slower clock's
    row = report_fairness.target_rows(s)[2]
    assert "1 of the 10 places kept" in row
    assert row.endswith("| 1.02x / 1.04x / 1.06x | met |")


def test_with_a_reserve_a_b_over_the_target_is_a_miss_of_that_row_only() -> None:
    s = _scenarios()
    s["fairness-slow"]["modes"]["fair-reserve"]["burst"] = _slow_burst([5.1, 5.2, 5.2], [5.3, 9.4, 5.5])
    verdicts = report_fairness.verdicts(s)
    assert [name for name, ok in verdicts.items() if not ok] == ["b_ratio_reserve"]
    assert report_fairness.target_rows(s)[2].endswith("| **missed** |")


def test_without_the_reserve_run_there_are_no_rows_for_it() -> None:
    s = _scenarios()
    del s["fairness-slow"]["modes"]["fair-reserve"]
    assert not any(line.startswith("| (a'')") for line in report_fairness.section(s))
    assert len(report_fairness.target_rows(s)) == 7
    assert report_fairness.verdicts(s)["b_ratio_reserve"] is None


REAL_KEPT = (
    "(a*) the same, fair with 1 of the 10 places kept for users with nothing in flight "
    "(a run of its own: `uv run python -m bench --only fairness-reserve`)"
)


def test_the_real_clock_burst_with_a_reserve_is_shown_after_a_and_judged_against_fifo_s_throughput() -> None:
    # WHEN the section is rendered with the real clock's burst also run in fair mode with a reserve
    s = _scenarios()
    lines = report_fairness.section(s)
    # THEN its rows come after (a)'s and before the slower clock's, in the fair column
    starts = [line.split(" | ")[0] for line in lines if line.startswith("| (a")]
    first_kept, first_slow = (
        next(n for n, start in enumerate(starts) if start.startswith(f"| {prefix}"))
        for prefix in ("(a*)", "(a')")
    )
    assert starts[first_kept - 1].startswith("| (a) ")
    assert first_kept < first_slow
    assert _row(lines, f"{REAL_KEPT}: B's job while A runs, over")[1:] == [
        "n/a",
        "1.1x / 1.2x / 1.3x",
        "≤ 1.5x every sample",
        "met",
    ]
    # AND A's throughput with places kept is judged against fifo's in the run above
    assert _row(lines, f"{REAL_KEPT}: A's throughput")[1:] == ["n/a", "545.0", "≥ fifo's (above)", "met"]
    assert _row(lines, f"{REAL_KEPT}: A's tasks")[2] == "900 / 0 of 900; 100.0; jobs 3 COMPLETED"
    # AND the targets table has a row for each, after the big jobs' throughput
    rows = report_fairness.target_rows(s)
    assert rows[4].endswith("| 1.1x / 1.2x / 1.3x | met |")
    assert "real clock" in rows[4]
    assert rows[5].endswith("| 545.0 tasks/min (fifo 540.0, in the run above) | met |")


@pytest.mark.parametrize(
    ("change", "target"),
    [
        (lambda burst: burst.update(b_ratio=_spread(1.1, 1.2, 1.6)), "b_ratio_reserve_real"),
        (lambda burst: burst.update(a_tasks_per_minute=539.0), "a_throughput_reserve"),
        # A's jobs not all ended, and even the most they could have done is below fifo's
        (
            lambda burst: burst.update(
                a_tasks_per_minute=None, a_tasks_per_minute_at_most=500.0, a_watched_s=1800.0
            ),
            "a_throughput_reserve",
        ),
    ],
)
def test_the_real_clock_reserve_missing_a_target_is_a_miss_of_that_target_only(
    change: Any, target: str
) -> None:
    s = _scenarios()
    change(s["fairness-reserve"]["modes"]["fair-reserve"]["burst"])
    verdicts = report_fairness.verdicts(s)
    assert [name for name, ok in verdicts.items() if not ok] == [target]
    assert sum("**missed**" in row for row in report_fairness.target_rows(s)) == 1


def test_without_the_real_clock_reserve_run_there_are_no_rows_for_it_and_a_failed_run_says_so() -> None:
    s = _scenarios()
    del s["fairness-reserve"]
    assert not any(line.startswith("| (a*)") for line in report_fairness.section(s))
    assert len(report_fairness.target_rows(s)) == 6
    assert report_fairness.verdicts(s)["b_ratio_reserve_real"] is None
    assert report_fairness.verdicts(s)["a_throughput_reserve"] is None
    s["fairness-reserve"] = {"error": "exit 1"}
    assert any("(a*)" in line and "not measured (exit 1)" in line for line in report_fairness.section(s))
