"""Request examples of the OpenAPI document: a one-model job, seed 004's video pipeline, seed 002's
three parallel stages, and the signals a pipeline's signal step takes. Each is a request the API
accepts as it stands (tests/unit/test_api_examples.py creates every one). Plain dicts in the shape of
OpenAPI's Example object: the models powertools has for them load only with GET /openapi.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The requests themselves are data (examples.json, shipped with the code like the catalog).
_REQUESTS: dict[str, dict[str, Any]] = json.loads(Path(__file__).with_name("examples.json").read_text())
ONE_MODEL = _REQUESTS["oneModel"]
# Seed 004: a script from a document, approved by the app before any video is paid for, then per
# scene speech -> avatar and a background, then one render (the app's own function) over every
# scene in scene order.
VIDEO_PIPELINE = _REQUESTS["videoPipeline"]
DOCUMENT: str = VIDEO_PIPELINE["input"]["document"]
# Seed 002: 150 images as three stages of 50 that depend on nothing, so they are planned together.
PARALLEL_STAGES = _REQUESTS["parallelStages"]

CREATE_JOB = {
    "oneModel": {
        "summary": "One model over 5 inputs",
        "description": "Five images of the style x role matrix, taken round-robin; reserves 5 credits.",
        "value": ONE_MODEL,
    },
    "videoPipeline": {
        "summary": "Pipeline: a video from a document (seed 004)",
        "description": "A script (one scene per paragraph), approved by the app, then per scene its speech, "
        "an avatar from that speech (webhook) and a background (polled), then the app's render over "
        "every scene in scene order. Reserves 91 credits (each fan-out at its max of 10 scenes); the "
        "slots of scenes the script does not make are released once it is in (5 scenes: 45).",
        "value": VIDEO_PIPELINE,
    },
    "parallelStages": {
        "summary": "Pipeline: three stages of 50 images in parallel (seed 002)",
        "description": "Three steps that depend on nothing: their 150 tasks are one round, run at most "
        "`concurrency` at a time, image by image across the three stages; reserves 150 credits. A cancel stops every stage before "
        "its next image and keeps what finished.",
        "value": PARALLEL_STAGES,
    },
}

SIGNAL = {
    "approve": {
        "summary": "Approve the script",
        "description": "The signal step completes with `data` as its result; the steps after it run.",
        "value": {"decision": "approve", "data": {"approvedBy": "editor-7"}},
    },
    "reject": {
        "summary": "Reject the script",
        "description": "The signal step fails; every step that depends on it is SKIPPED and refunded.",
        "value": {"decision": "reject", "reason": "scene 3 names the wrong orchard"},
    },
}

RETRY = {
    "failed": {
        "summary": "Retry what failed",
        "description": "The failed tasks run again as their next attempt; a pipeline's skipped dependents with them.",
        "value": {"include": ["failed"]},
    },
    "restart": {
        "summary": "Restart a cancelled job",
        "description": "The cancelled tasks (and the failed ones) run again; what completed is kept, never redone.",
        "value": {"include": ["failed", "cancelled"]},
    },
}
