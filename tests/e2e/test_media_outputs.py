"""The video pipeline's models run as today's one-step jobs: a script (text), speech (inline audio)
and an avatar (a video announced by webhook) are each kept with their content type."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from genjobs_local import sim_outputs
from tests.e2e.conftest import Client

DOCUMENT = "Scene one.\n\nScene two.\n\nScene three."


@pytest.mark.parametrize(
    ("model", "model_input", "content_type"),
    [
        ("sim-llm", {"document": DOCUMENT, "format": "script"}, "application/json"),
        ("sim-tts", {"text": "Scene one."}, "audio/wav"),
        ("sim-avatar", {"audio": "https://cdn.example/speech/1.wav"}, "video/mp4"),
    ],
)
def test_text_audio_and_video_outputs_are_kept_with_their_content_type(
    app: Client, model: str, model_input: dict[str, Any], content_type: str
) -> None:
    # WHEN a one-task job of the model runs
    created = app.create({"provider": "simulator", "model": model, "input": model_input, "tasks": [{}]})
    job = app.wait(created["jobId"])
    # THEN its output is stored with the model's content type, and holds what the model made
    assert job["status"] == "COMPLETED", job
    output = job["tasks"][0]["outputs"][0]
    assert output["contentType"] == content_type
    body = requests.get(output["url"], timeout=10).content
    if model == "sim-llm":
        assert [scene["narration"] for scene in json.loads(body)["scenes"]] == DOCUMENT.split("\n\n")
    elif model == "sim-tts":
        assert body == sim_outputs.wav("Scene one.")
    else:
        assert sim_outputs.made_from(body)["input"] == model_input
