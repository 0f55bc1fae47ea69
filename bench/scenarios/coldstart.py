"""Cold start proxy: each handler module's import time in a fresh interpreter, and package sizes."""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = [
    "genjobs.handlers.api",
    "genjobs.handlers.webhook",
    "genjobs.handlers.prepare_job",
    "genjobs.handlers.poll_task",
    "genjobs.handlers.fail_task",
    "genjobs.handlers.settle_job",
    "genjobs.handlers.submitter",
    "genjobs.handlers.submit_dead_letter",
    "genjobs.handlers.runner",
    "genjobs.handlers.sweeper",
    "genjobs.handlers.notifier",
]
# What Lambda's environment gives the functions at INIT (values are placeholders; nothing is called).
ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "STAGE": "bench",
    "TABLE_NAME": "t",
    "IDEMPOTENCY_TABLE_NAME": "i",
    "OUTPUT_BUCKET": "b",
    "SUBMIT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
    "JOB_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:s",
    "POWERTOOLS_SERVICE_NAME": "genjobs",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
_PROBE = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"


def import_seconds(module: str, repeats: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))} | ENV
    env["PYTHONPATH"] = str(ROOT / "functions")
    samples = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE.format(m=module)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return samples


def heaviest_imports(module: str, top: int = 6) -> list[tuple[str, float]]:
    """Packages by the sum of their modules' own import time (`python -X importtime`): where it goes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))} | ENV
    env["PYTHONPATH"] = str(ROOT / "functions")
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    totals: dict[str, float] = {}
    for line in out.stderr.splitlines():
        parts = line.split("|")
        self_us = parts[0].split(":")[-1].strip()
        if len(parts) != 3 or not self_us.isdigit():
            continue
        root = parts[2].strip().split(".")[0]
        totals[root] = totals.get(root, 0.0) + int(self_us) / 1000
    return sorted(((k, round(v, 1)) for k, v in totals.items()), key=lambda kv: -kv[1])[:top]


def zipped_size(directory: Path) -> int:
    """Bytes of `directory` zipped (deflate), as the deployment package or layer would be."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory))
    return len(buffer.getvalue())


def unzipped_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def packages() -> dict[str, Any]:
    build = ROOT / ".aws-sam" / "build"
    if build.is_dir():
        function_dir = build / "ApiFunction"
        layer_dir = build / "DependenciesLayer"
        source = "sam build output (.aws-sam/build: ApiFunction, DependenciesLayer; every function ships the same code)"
    else:
        function_dir = ROOT / "functions"
        layer_dir = None
        source = "functions/ zipped (no sam build output; the layer needs `make build`)"
    result: dict[str, Any] = {
        "source": source,
        "function_zip_bytes": zipped_size(function_dir),
        "function_unzipped_bytes": unzipped_size(function_dir),
    }
    if layer_dir is not None and layer_dir.is_dir():
        result |= {
            "layer_zip_bytes": zipped_size(layer_dir),
            "layer_unzipped_bytes": unzipped_size(layer_dir),
        }
    return result


def run(repeats: int) -> dict[str, Any]:
    imports = {}
    for module in HANDLERS:
        samples = import_seconds(module, repeats)
        imports[module] = {
            "median_ms": round(statistics.median(samples) * 1000, 1),
            "samples_ms": [round(s * 1000, 1) for s in samples],
            "heaviest_ms": heaviest_imports(module),
        }
    return {"python": sys.version.split()[0], "imports": imports, "packages": packages()}
