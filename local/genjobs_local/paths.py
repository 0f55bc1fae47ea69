"""Where the local runtime finds the template and keeps its state (cheap to import: no moto, no boto3)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_STATE_DIR = REPO_ROOT / ".genjobs" / "local"  # gitignored
STACK_FILE = "stack.json"


def state_dir_from_env() -> Path:
    """The signing key and stack.json live here; env GENJOBS_LOCAL_STATE_DIR overrides the default."""
    return Path(os.environ.get("GENJOBS_LOCAL_STATE_DIR", str(DEFAULT_STATE_DIR)))
