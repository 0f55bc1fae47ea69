"""Writes the JSON Schema of every message between the workflow's steps (genjobs.models.messages)
to docs/schemas/<name>.json, or with --check fails when a committed schema differs from the models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "docs" / "schemas"


def messages() -> dict[str, tuple[str, Any]]:
    """File name -> (title, model) of every message that crosses a boundary."""
    sys.path.insert(0, str(ROOT / "functions"))
    from genjobs.models import messages as m

    return {
        "prepare-job-input": ("PrepareJobInput", m.PrepareJobInput),
        "prepare-job-output": ("PrepareJobOutput", m.PrepareJobOutput),
        "manifest-item": ("ManifestItem", m.TaskRef),
        "poll-task-input": ("PollTaskInput", m.PollTaskInput),
        "poll-task-output": ("PollTaskOutput", m.PollTaskOutput),
        "fail-task-input": ("FailTaskInput", m.FailTaskInput),
        "fail-task-output": ("FailTaskOutput", m.FailTaskOutput),
        "settle-job-input": ("SettleJobInput", m.SettleJobInput),
        "settle-job-output": ("SettleJobOutput", m.SettleJobOutput),
        "task-token-answer": ("TaskTokenAnswer", m.Wait),
        "submit-queue-message": ("SubmitQueueMessage", m.SubmitQueueMessage),
        "job-event": ("JobEvent", m.JobEvent),
        "received-webhook": ("ReceivedWebhook", m.ReceivedWebhook),
    }


def generate() -> dict[str, str]:
    """File name (without .json) -> the schema's text, as committed."""
    documents = {}
    for name, (title, model) in messages().items():
        schema = TypeAdapter(model).json_schema(mode="validation")
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": title}
        documents[name] = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return documents


def differences(documents: dict[str, str]) -> list[str]:
    """The committed schema files that differ from `documents`, are missing or are left over."""
    committed = {p.stem: p.read_text() for p in SCHEMAS.glob("*.json")}
    return sorted(
        f"docs/schemas/{name}.json"
        for name in committed.keys() | documents.keys()
        if committed.get(name) != documents.get(name)
    )


def main() -> int:
    documents = generate()
    if "--check" in sys.argv:
        stale = differences(documents)
        for path in stale:
            print(f"{path} differs from the models: run `make schemas` and commit it", file=sys.stderr)
        return 1 if stale else 0
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for stale in SCHEMAS.glob("*.json"):
        if stale.stem not in documents:
            stale.unlink()
    for name, text in documents.items():
        (SCHEMAS / f"{name}.json").write_text(text)
    print(f"wrote {len(documents)} schemas to {SCHEMAS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
