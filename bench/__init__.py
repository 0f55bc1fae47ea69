"""genjobs benchmarks: AWS work and cost per image, orchestration overhead, cancel, scale, cold start,
pipelines (Step Functions limits, makespan against the critical path).

`uv run python -m bench` (or `make bench`) runs every scenario, each in its own process (one local
stack per process, each at the TIME_SCALE its timings need), and writes docs/bench.md and
docs/bench.json. `--quick` is a short smoke run; `--only NAME` runs one scenario.
"""
