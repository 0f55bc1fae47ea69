"""The live progress bar, its ETA from throughput, and the summaries the CLI prints."""

from __future__ import annotations

import io
from typing import Any

import pytest

from genjobs_cli.render import (
    BAR_WIDTH,
    ProgressDisplay,
    ThroughputEta,
    duration,
    progress_line,
    settlement_summary,
    step_lines,
    table,
    watch_view,
    work_done,
)

pytestmark = pytest.mark.unit


def job(status: str = "PROCESSING", progress: float = 0.0, total: int = 10, **counts: int) -> dict[str, Any]:
    every = {"PENDING": 0, "PROCESSING": 0, "COMPLETED": 0, "FAILED": 0, "CANCELLED": 0} | counts
    return {
        "jobId": "j1",
        "status": status,
        "progress": progress,
        "plan": {"taskCount": total, "unitPrice": 1, "creditsReserved": total},
        "counts": every,
        "credits": {"unitPrice": 1, "reserved": total, "charged": every["COMPLETED"], "refunded": 0},
    }


def test_eta_is_the_remaining_work_at_the_observed_throughput() -> None:
    # GIVEN 2 tasks done in the first 10 s of watching, of 10
    eta = ThroughputEta()
    eta.observe(100.0, 0)
    eta.observe(110.0, 2)
    # THEN 8 tasks remain at 0.2 tasks/s: 40 s
    assert eta.rate() == pytest.approx(0.2)
    assert eta.eta(10) == pytest.approx(40.0)


def test_eta_is_unknown_until_some_work_was_seen() -> None:
    eta = ThroughputEta()
    assert eta.eta(10) is None
    eta.observe(0.0, 3)
    assert eta.eta(10) is None  # one sample: no rate yet
    eta.observe(5.0, 3)
    assert eta.eta(10) is None  # no progress while watching


def test_eta_follows_recent_throughput_not_the_whole_history() -> None:
    # GIVEN a slow start (1 task in 100 s) then 1 task per second, with a 10 s window
    eta = ThroughputEta(window_seconds=10)
    eta.observe(0.0, 0)
    eta.observe(100.0, 1)
    for second in range(1, 21):
        eta.observe(100.0 + second, 1 + second)
    # THEN the rate is the recent 1 task/s, so 79 remaining of 100 take about 79 s
    assert eta.rate() == pytest.approx(1.0)
    assert eta.eta(100) == pytest.approx(79.0)


def test_work_done_counts_running_tasks_by_progress_and_ended_tasks_whole() -> None:
    assert work_done(job(progress=25.0, total=4)) == pytest.approx(1.0)
    assert work_done(job(progress=0.0, total=4, FAILED=1, CANCELLED=1)) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "--"), (0, "0s"), (4.6, "5s"), (65, "1m05s"), (3599, "59m59s"), (3600 * 2 + 61, "2h01m")],
)
def test_duration_is_short_and_readable(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_progress_line_shows_bar_percent_counts_and_eta() -> None:
    # GIVEN a job half done with one failure
    line = progress_line(job(progress=50.0, COMPLETED=4, FAILED=1, PROCESSING=2), eta_seconds=65)
    # THEN the bar is half filled and the counts and ETA are there
    assert line.startswith("[" + "#" * (BAR_WIDTH // 2) + "." * (BAR_WIDTH // 2) + "]")
    assert " 50.0%" in line
    assert "PROCESSING" in line
    assert "4/10 done  1 failed  0 cancelled" in line
    assert line.endswith("ETA 1m05s")


def test_progress_line_of_an_ended_job_has_no_eta() -> None:
    line = progress_line(job("CANCELLED", 100.0, COMPLETED=6, CANCELLED=4), eta_seconds=None)
    assert "ETA" not in line
    assert "#" * BAR_WIDTH in line


def test_on_a_terminal_the_line_is_redrawn_in_place() -> None:
    # GIVEN a TTY
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True)
    # WHEN two lines are shown and the display closed
    display.show("one")
    display.show("two")
    display.close()
    # THEN each overwrote the line (carriage return, clear to end) and one newline ends it
    assert stream.getvalue() == "\rone\x1b[K\rtwo\x1b[K\n"


def test_elsewhere_each_change_is_a_plain_line_and_repeats_are_dropped() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=False)
    for line in ("one", "one", "two"):
        display.show(line)
    display.close()
    assert stream.getvalue() == "one\ntwo\n"


def test_settlement_says_what_was_kept_charged_and_refunded() -> None:
    cancelled = job("CANCELLED", 100.0, total=6, COMPLETED=2, CANCELLED=4)
    cancelled["credits"] = {"unitPrice": 1, "reserved": 6, "charged": 2, "refunded": 4}
    assert settlement_summary(cancelled) == (
        "CANCELLED: kept 2 finished tasks (charged 2 credits), refunded 4 credits (0 failed, 4 cancelled)"
    )


def test_table_aligns_columns_and_shows_none_as_empty() -> None:
    assert table(("A", "LONGER"), [("xx", None), ("y", 3)]).splitlines() == ["A   LONGER", "xx", "y   3"]


def pipeline(status: str = "PROCESSING") -> dict[str, Any]:
    """A pipeline of two steps: a script of one task done, and its scenes' speech (5 of at most 10)."""

    def step(name: str, kind: str, size: int | None, max_size: int, progress: float, **counts: int) -> Any:
        every = {"PENDING": 0, "PROCESSING": 0, "COMPLETED": 0, "FAILED": 0, "CANCELLED": 0, "SKIPPED": 0}
        every |= counts
        refunded = 0 if size is None else max_size - size
        credits = {"unitPrice": 1, "reserved": max_size, "charged": every["COMPLETED"], "refunded": refunded}
        return {"name": name, "kind": kind, "size": size, "maxSize": max_size, "progress": progress} | {
            "counts": every,
            "credits": credits,
            "provider": "simulator",
            "model": "m",
            "final": False,
        }

    return job(status, 40.0, total=6, COMPLETED=3, PROCESSING=1) | {
        "provider": None,
        "model": None,
        "steps": [
            step("script", "sync", 1, 1, 100.0, COMPLETED=1),
            step("speech", "sync", 5, 10, 40.0, COMPLETED=2, PROCESSING=1, PENDING=1, FAILED=1),
        ],
    }


def test_a_pipeline_shows_one_line_per_step_under_the_job_line() -> None:
    # GIVEN a pipeline whose speech step has 2 of its 5 scenes done and one failed
    lines = watch_view(pipeline(), eta_seconds=None).splitlines()
    # THEN the job line comes first, then each step: kind, size/max, bar, percent, counts and credits
    assert lines[0].startswith("[")
    assert lines[1] == (
        "  script  sync      1/1    [##########] 100.0%  done 1  running 0  waiting 0  "
        "credits 1 charged, 0 refunded"
    )
    assert lines[2] == (
        "  speech  sync      5/10   [####......]  40.0%  done 2  running 1  waiting 1  failed 1  "
        "credits 2 charged, 5 refunded"
    )


def test_a_step_whose_size_is_not_known_yet_shows_a_question_mark() -> None:
    job_ = pipeline()
    job_["steps"][1]["size"] = None
    assert "    ?/10 " in step_lines(job_)[1]


def test_a_one_step_job_is_watched_as_one_line() -> None:
    assert watch_view(job(progress=50.0, COMPLETED=5), eta_seconds=None).count("\n") == 0
    assert step_lines(job()) == []


def test_on_a_terminal_a_block_is_redrawn_over_the_last_one() -> None:
    # GIVEN a TTY showing a block of three lines
    stream = io.StringIO()
    display = ProgressDisplay(stream, tty=True)
    display.show("job\na\nb")
    stream.seek(0)
    stream.truncate()
    # WHEN the next block is shown, then one of two lines
    display.show("job2\na2\nb2")
    display.show("job3\na3")
    # THEN the cursor goes back up to the block's first line, each line is overwritten and cleared,
    # and the old view's extra line is cleared below the shorter one
    assert stream.getvalue() == (
        "\r\x1b[2Ajob2\x1b[K\na2\x1b[K\nb2\x1b[K" + "\r\x1b[2Ajob3\x1b[K\na3\x1b[K\x1b[J"
    )


def test_a_pipelines_settlement_counts_its_skipped_tasks() -> None:
    ended = pipeline("FAILED")
    ended["counts"]["SKIPPED"] = 2
    assert settlement_summary(ended).endswith("(0 failed, 0 cancelled, 2 skipped)")
