"""The designs section prices each design's measured usage and shows the published anchors beside it."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report_designs

pytestmark = [pytest.mark.unit]


def _run(design: str, transitions: float, polls: float = 0, real: int = 0) -> dict[str, Any]:
    return {
        "design": design,
        "images": 10,
        "time_scale": 0.1,
        "wall_s": 1.0,
        "completed": 10,
        "outputs_in_s3": 10,
        "polls_per_image": polls,
        "polls_per_image_real_schedule": real,
        "per_image": {"state_transitions": transitions, "s3_writes": 1.0},
    }


def _scenarios() -> dict[str, Any]:
    # A poll loop of 3 transitions per poll plus 2, polling 4 times at 20 s and 60 of 120 times at 10 min.
    return {
        "designs": {
            str(latency): {
                "poll-loop": _run("poll-loop", 2 + 3 * polls, polls, real),
                "callback": _run("callback", 2.0),
                "floor": _run("floor", 0.0),
            }
            for latency, polls, real in ((20, 4, 4), (60, 12, 12), (600, 60, 120))
        }
    }


def test_each_design_is_priced_per_1000_images_beside_its_anchor() -> None:
    # WHEN the section is rendered
    lines = report_designs.section(_scenarios())
    # THEN the callback row is 2 transitions ($0.05) + one S3 PUT ($0.005) per 1,000 at every latency,
    # with the published anchor beside it; the floor is the PUT alone
    assert "| inline-Map callback | $0.0550 | $0.0550 | $0.0550 | about $0.082 |" in lines
    assert (
        "| floor (no workflow) | $0.0050 | $0.0050 | $0.0050 | about $0.004; $0.009 with one S3 PUT per image |"
        in lines
    )


def test_a_poll_loop_that_polled_less_than_the_real_schedule_is_also_priced_at_the_real_count() -> None:
    lines = report_designs.section(_scenarios())
    # THEN at 10 min (its first column: no genjobs run here) the 60 missing polls are added at 3 transitions each: 2 + 360 transitions + 1 PUT
    real = [line for line in lines if line.startswith("| cost with the real schedule's poll count")]
    assert real[-1].split(" | ")[1] == f"${(362 * 0.025 + 0.005):.4f}"


def test_no_section_without_a_designs_run() -> None:
    assert report_designs.section({"cost-20": {}}) == []
