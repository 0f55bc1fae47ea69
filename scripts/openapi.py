"""Writes the API's OpenAPI document (generated from the code) to docs/openapi.json, or with
--check fails when the committed document differs from the code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "openapi.json"


def generate() -> str:
    # Settings are read at import of nothing AWS-related; these values only satisfy validation.
    for name in (
        "STAGE",
        "TABLE_NAME",
        "IDEMPOTENCY_TABLE_NAME",
        "OUTPUT_BUCKET",
        "SUBMIT_QUEUE_URL",
        "JOB_EVENTS_TOPIC_ARN",
        "STATE_MACHINE_ARN",
    ):
        os.environ.setdefault(name, "openapi")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sys.path.insert(0, str(ROOT / "functions"))
    from genjobs.handlers.api import openapi_document

    return json.dumps(json.loads(openapi_document()), indent=2, sort_keys=True) + "\n"


def main() -> int:
    document = generate()
    if "--check" in sys.argv:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != document:
            print(
                "docs/openapi.json differs from the code: run `make openapi` and commit it", file=sys.stderr
            )
            return 1
        return 0
    DOCUMENT.write_text(document)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
