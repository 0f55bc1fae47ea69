"""`python -m bench [--quick] [--only NAME ...]`: every scenario in its own process, then the report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import chart, report

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _scenarios(quick: bool) -> dict[str, Callable[[], dict[str, Any]]]:
    """Name -> how to run it; imports are lazy so each worker process loads only its scenario."""
    from bench.scenarios import (
        cancel,
        coldstart,
        cost,
        designs,
        fairness,
        live,
        overhead,
        pipelines,
        scale,
        throughput,
    )

    n = 3 if quick else 20
    sizes = (2, 6) if quick else (5, 150)  # job sizes besides n: per-job work against per-image work
    return {
        # TIME_SCALEs large enough that each wake-up's local processing (tens of ms) stays small
        # against the poll intervals (5 to 30 schedule s): the polls are then the real schedule's.
        # Each: 3 jobs of n images (seeds 0, 1, 2), jobs of the other sizes, per mode; cost-20 also
        # one job whose tasks take 10x the model's expected time.
        "cost-20": lambda: cost.run(20, 0.05 if quick else 0.2, n, sizes=sizes, far=10),
        "cost-60": lambda: cost.run(60, 0.05 if quick else 0.2, n, sizes=sizes),
        "cost-600": lambda: cost.run(600, 0.005 if quick else 0.1, n, sizes=sizes),
        "designs": lambda: designs.run(designs.QUICK_SCALES if quick else designs.SCALES, n),
        "pollcheck": lambda: cost.run_poll_check(600, 0.001, n if quick else 10),
        # The real clock (TIME_SCALE 1): a compressed one would stretch local processing by 1/TIME_SCALE.
        "overhead": lambda: overhead.run(20 if quick else 100, 10, 20, 0.1 if quick else 1.0),
        "cancel": lambda: cancel.run(12 if quick else 30, 4 if quick else 10, 0.05),
        # About 10 tasks/s locally on 2 cores: the 10,000-task job gets up to 40 minutes
        # (BENCH_BIGJOB_SECONDS), and the report says how far it got if that is not enough.
        "scale": lambda: scale.run(1000 if quick else 10_000, 3),
        "bigjob": lambda: scale.run_big(
            1000 if quick else 10_000, float(os.environ.get("BENCH_BIGJOB_SECONDS", 300 if quick else 2400))
        ),
        "concurrent": lambda: scale.run_concurrent(20 if quick else 200, 120 if quick else 300),
        "coldstart": lambda: coldstart.run(1 if quick else 5),
        "throughput": lambda: throughput.run(50 if quick else 500),
        # About 2 to 4 pipeline tasks/s locally on 2 cores: 20 chained steps of 20 items, 20 steps
        # that do not chain (a round each), one fan-out of 1,000 with a step over all of it; each within
        # a few minutes (the report extrapolates to 20 x 1,000).
        # The live channel: 200 jobs of 5 images at once (1,000 images), one app connected for all.
        "live": lambda: live.run(20 if quick else 200, 2 if quick else 5, 0.05),
        "pipelines": lambda: pipelines.run(
            [(5, 20, "chained"), (2, 20, "after")]
            if quick
            else [(20, 20, "chained"), (5, 20, "after"), (1000, 1, "overall")],
            5,
            1 if quick else 3,
        ),
        # Both DispatchModes side by side, a stack each, on the real clock (B's 5 s task against
        # local processing): fifo then fair, each a burst, a provider limit and two priorities.
        "fairness": lambda: fairness.run(quick),
        # (a) of fairness again at TIME_SCALE 10, where the provider's capacity is the bottleneck.
        "fairness-slow": lambda: fairness.run_slow(quick),
        # (a) of fairness on the real clock in fair mode with places kept for newcomers, A waited for.
        "fairness-reserve": lambda: fairness.run_reserve(quick),
    }


NAMES = [
    "coldstart",
    "cost-20",
    "cost-60",
    "cost-600",
    "designs",
    "pollcheck",
    "overhead",
    "cancel",
    "throughput",
    "scale",
    "bigjob",
    "concurrent",
    "pipelines",
    "fairness",
    "fairness-slow",
    "fairness-reserve",
    "live",
]


def _worker(name: str, quick: bool, out: Path) -> None:
    started = time.monotonic()
    result = _scenarios(quick)[name]()
    result["_seconds"] = round(time.monotonic() - started, 1)
    result["_command"] = f"uv run python -m bench{' --quick' if quick else ''} --only {name}"
    out.write_text(json.dumps(result, default=str))
    sys.stdout.flush()
    os._exit(0)  # a stack left running (scale) must not hold the process on its threads


def _run_in_process(name: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "bench", "--worker", name, "--out", str(out)]
        command += ["--quick"] if quick else []
        log = Path(tmp) / "log.txt"
        with log.open("w") as sink:
            code = subprocess.run(
                command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=False
            ).returncode
        if code != 0 or not out.exists():
            tail = log.read_text()[-3000:]
            print(f"  {name} failed (exit {code}):\n{tail}", file=sys.stderr)
            return {"error": f"exit {code}", "log_tail": tail}
        return dict(json.loads(out.read_text()))


def code_version() -> dict[str, Any]:
    """The code measured is the working tree: its commit and any uncommitted changes to the system."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    changed = git("status", "--porcelain", "--", "functions", "statemachine", "template.yaml", "local")
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": changed.split("\n")[:-1]}


def machine() -> dict[str, Any]:
    return {
        "code": code_version(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        # Timings depend on what else runs: other engineers' test runs share this machine.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def _write(out_dir: Path, data: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (out_dir / "bench.md").write_text(report.markdown(data))
    drawn = chart.render(data["summary"], out_dir / "bench-cost.svg")
    print(
        f"bench: wrote {out_dir / 'bench.json'}, {out_dir / 'bench.md'}"
        + (" and bench-cost.svg" if drawn else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run (small jobs)")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only this scenario (repeatable)")
    parser.add_argument("--out-dir", type=Path, default=DOCS, help="where bench.md and bench.json go")
    parser.add_argument("--render", action="store_true", help="rewrite the report from bench.json only")
    parser.add_argument("--worker", choices=NAMES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.quick, args.out)
        return 0
    if args.render:
        data = json.loads((args.out_dir / "bench.json").read_text())
        data["summary"] = report.summary(data["scenarios"])
        _write(args.out_dir, data)
        return 0
    names = args.only or NAMES
    json_path = args.out_dir / "bench.json"
    # --only refreshes those scenarios in the existing results and rewrites the report.
    previous = json.loads(json_path.read_text()) if args.only and json_path.exists() else {}
    results: dict[str, Any] = dict(previous.get("scenarios", {}))
    for name in names:
        print(f"bench: {name} ...", flush=True)
        started = time.monotonic()
        results[name] = _run_in_process(name, args.quick)
        print(f"bench: {name} done in {time.monotonic() - started:.0f} s", flush=True)
    data = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "machine": machine(),
        "scenarios": results,
    }
    data["summary"] = report.summary(results)
    _write(args.out_dir, data)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
