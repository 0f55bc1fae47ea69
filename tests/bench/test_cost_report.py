"""The cost section's figures from the runs: repeats, job sizes, the fit and the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench.report import summary
from bench.usage import Usage, fit

from bench import chart

pytestmark = [pytest.mark.unit]


def _run(images: int, transitions_per_image: float, per_job: float = 0.0) -> dict[str, Any]:
    per_image = Usage(state_transitions=transitions_per_image + per_job / images).as_dict()
    return {"images": images, "per_image": per_image, "peak": {}}


def test_a_jobs_work_splits_into_work_per_job_and_per_image() -> None:
    # GIVEN jobs of 5, 20 and 150 images, each 6 transitions per job + 2 per image
    runs = [(n, Usage(state_transitions=2 + 6 / n)) for n in (5, 20, 150)]
    per_job, per_image = fit(runs) or (Usage(), Usage())
    assert (per_job.state_transitions, per_image.state_transitions) == pytest.approx((6, 2))
    assert fit(runs[:1]) is None  # one size says nothing of the split


def test_summary_reports_the_spread_of_repeats_the_sizes_and_the_slow_run() -> None:
    repeats = [_run(20, t, per_job=6) for t in (2.0, 2.4, 2.2)]
    median = {**repeats[2], "mode": "webhook", "latency_s": 20, "polls_per_image": 0}
    result = {
        "webhook": {
            **median,
            "repeats": repeats,
            "sizes": {"5": _run(5, 2.2, 6), "20": repeats[2], "150": _run(150, 2.2, 6)},
            "far": {**_run(20, 5.0, 6), "factor": 10},
        },
        "_command": "uv run python -m bench --only cost-20",
    }
    out = summary({"cost-20": result})["costs"]["webhook-20"]
    per_1000 = 0.025 * 1000 / 1000  # one transition per image, per 1,000 images
    assert out["repeats_per_1000"] == pytest.approx([(2 + 0.3) * per_1000, 2.5 * per_1000, 2.7 * per_1000])
    assert out["fit"]["per_job"] == pytest.approx(6 * 0.025 / 1000)
    assert out["fit"]["at_size_per_1000"]["5"] == pytest.approx((2.2 + 6 / 5) * per_1000, abs=1e-4)
    assert out["far"] == {"factor": 10, "per_1000": pytest.approx((5 + 0.3) * per_1000, abs=1e-4)}
    assert out["command"] == "uv run python -m bench --only cost-20"


def test_the_chart_draws_every_priced_design(tmp_path: Path) -> None:
    summ = {
        "costs": {"webhook-60": {"usage_per_image": Usage(state_transitions=2).as_dict()}},
        "designs": [
            {
                "design": "naive 5 s poll",
                "latency_s": 60,
                "usage_per_image": Usage(state_transitions=51).as_dict(),
            }
        ],
    }
    path = tmp_path / "bench-cost.svg"
    assert chart.render(summ, path)
    svg = path.read_text()
    assert svg.startswith("<?xml")
    assert "naive 5 s poll" in svg
    assert "genjobs webhook" in svg
    chart.render(summ, tmp_path / "again.svg")
    assert (tmp_path / "again.svg").read_text() == svg  # the same figures draw the same file
    assert not chart.render({"costs": {}}, tmp_path / "none.svg")


@pytest.mark.parametrize(
    ("per_image_transitions", "said"),
    [(1.0, "Jobs of 100 images or more meet it"), (2.0, "No job size meets the target")],
)
def test_a_missed_cost_target_says_from_which_job_size_it_is_met(
    per_image_transitions: float, said: str
) -> None:
    from bench import misses

    # GIVEN webhook jobs of 5, 20 and 150 images: 60 transitions per job plus some per image
    # ($0.025 per 1,000 images at 1 transition each leaves $0.015 of the $0.040 target for the job's
    # $0.0015: 100 images or more)
    sizes = {str(n): _run(n, per_image_transitions, per_job=60) for n in (5, 20, 150)}
    entry = _run(20, per_image_transitions, per_job=60) | {"sizes": sizes}
    summ = summary({"cost-20": {"webhook": entry, "functions": {}}})
    # THEN the miss at 20 images names the job's share and the smallest job size that meets it
    text = "\n".join(misses.section({}, summ))
    assert "Webhook cost at 20 s" in text
    assert said in text
