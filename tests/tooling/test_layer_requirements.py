"""The dependencies layer installs exactly what uv.lock pins."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def test_layer_requirements_match_uv_lock(root: Path) -> None:
    # GIVEN the committed layer requirements
    committed = (root / "layers/dependencies/requirements.txt").read_text()

    # WHEN they are exported again from uv.lock
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` sets UV to its own binary
    assert uv, "uv not found"
    exported = subprocess.run(
        [str(root / "scripts/layer-requirements.sh")],
        env={**os.environ, "UV": uv},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    # THEN nothing changed
    assert committed == exported, "layer requirements drifted from uv.lock: run `make layer-requirements`"


def test_layer_requirements_pin_every_package(root: Path) -> None:
    lines = (root / "layers/dependencies/requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line and not line.lstrip().startswith("#")]

    assert requirements, "no requirements exported"
    assert all("==" in line for line in requirements), requirements
    assert not any(line.startswith(("-e", "genjobs")) for line in requirements), (
        "the project itself leaked in"
    )
