"""Writes the JSON Schema of every message between the workflow's steps (genjobs.models.messages)
to docs/schemas/<name>.json, or with --check fails when a committed schema differs from the models."""

from __future__ import annotations

import json
import re
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

    titled: dict[str, Any] = {
        "ManifestItem": m.ManifestItem,
        "TaskTokenAnswer": m.TaskEnded,
        "SubmitQueueMessage": m.SubmitQueueMessage,
    }
    for model in (m.PrepareJobInput, m.PrepareJobOutput, m.PlanTasksInput, m.PlanTasksOutput):
        titled[model.__name__] = model
    for model in (m.PollTaskInput, m.PollTaskOutput):
        titled[model.__name__] = model
    for model in (m.FailTaskInput, m.FailTaskOutput, m.SettleJobInput, m.SettleJobOutput):
        titled[model.__name__] = model
    for model in (m.JobEvent, m.ReceivedWebhook, m.SweeperSchedule):
        titled[model.__name__] = model
    # RunQueue's message, and the contract of the app functions a pipeline step invokes.
    titled["RunQueueMessage"] = m.RunTask
    titled["BulkQueueMessage"] = m.BulkPage
    titled["DispatchQueueMessage"] = m.DispatchNudge
    for model in (m.AppFunctionRequest, m.AppFunctionResult):
        titled[model.__name__] = model
    return {re.sub(r"(?<!^)(?=[A-Z])", "-", title).lower(): (title, model) for title, model in titled.items()}


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
