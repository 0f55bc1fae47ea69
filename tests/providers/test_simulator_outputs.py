"""What the simulator's models deliver: the video script of a document, speech, images and videos,
each with its content type, as the video pipeline's steps receive them."""

from __future__ import annotations

import json
from typing import Any
from urllib.request import urlopen

import pytest
import requests

from genjobs.providers import ProviderStatus, SubmitRequest, TaskState
from genjobs.providers.simulator import SimulatorProvider
from genjobs_local import sim_outputs

DOCUMENT = """Our company was founded in 1999. It started in a garage.

We make bicycles! Every frame is welded by hand.

Our riders cross deserts.
They climb mountains.

Service is free for life.

Visit us in Lyon. We are open on Sundays."""

PARAGRAPHS = [
    "Our company was founded in 1999. It started in a garage.",
    "We make bicycles! Every frame is welded by hand.",
    "Our riders cross deserts. They climb mountains.",
    "Service is free for life.",
    "Visit us in Lyon. We are open on Sundays.",
]


def run(provider: SimulatorProvider, model: str, key: str = "k", **model_input: Any) -> ProviderStatus:
    status = provider.run(
        SubmitRequest(model=model, input=model_input, idempotency_key=key), timeout_seconds=60
    )
    assert status.state is TaskState.SUCCEEDED, status
    return status


def inline_json(uri: str) -> Any:
    with urlopen(uri) as response:
        assert response.headers.get_content_type() == "application/json"
        return json.loads(response.read())


def test_a_document_of_five_paragraphs_becomes_a_script_of_five_scenes(provider: SimulatorProvider) -> None:
    status = run(provider, "sim-llm", prompt=DOCUMENT, format="script")
    script = inline_json(status.outputs[0])
    assert script["title"] == "Our company was founded in 1999."
    assert [scene["scene"] for scene in script["scenes"]] == [1, 2, 3, 4, 5]
    assert [scene["narration"] for scene in script["scenes"]] == PARAGRAPHS
    assert script["scenes"][1]["visual"] == "Scene 2: We make bicycles!"


def test_max_scenes_caps_the_script_and_the_document_key_is_read_too(provider: SimulatorProvider) -> None:
    status = run(provider, "sim-llm", document=DOCUMENT, format="script", maxScenes=3)
    assert [scene["narration"] for scene in inline_json(status.outputs[0])["scenes"]] == PARAGRAPHS[:3]


def test_without_a_format_the_language_model_completes_the_prompt(provider: SimulatorProvider) -> None:
    status = run(provider, "sim-llm", prompt="Write  a\nhaiku")
    assert inline_json(status.outputs[0]) == {"text": "sim-llm answers: Write a haiku"}


def test_a_txt_output_is_inline_plain_text(provider: SimulatorProvider) -> None:
    status = run(provider, "sim-llm", prompt="hi", sim={"outputFormat": "txt"})
    with urlopen(status.outputs[0]) as response:
        assert response.headers["Content-Type"] == "text/plain;charset=utf-8"
        assert response.read() == b"sim-llm answers: hi"


def test_speech_lasts_as_long_as_its_text(provider: SimulatorProvider) -> None:
    def seconds(text: str) -> float:
        with urlopen(run(provider, "sim-tts", key=text, text=text).outputs[0]) as response:
            body = response.read()
        rate = int.from_bytes(body[24:28], "little")
        return int.from_bytes(body[40:44], "little") / rate

    assert seconds("a" * 100) == pytest.approx(100 * sim_outputs.WAV_SECONDS_PER_CHARACTER)
    assert seconds("a" * 400) == pytest.approx(4 * seconds("a" * 100))


@pytest.mark.parametrize(
    ("model", "model_input", "embedded"),
    [
        ("sim-avatar", {"audio": "s3://outputs/job/speech/000002/0.wav"}, "audio"),
        ("sim-background", {"prompt": "a desert at dawn"}, "prompt"),
    ],
)
def test_a_video_is_an_mp4_file_made_from_its_input(
    provider: SimulatorProvider, model: str, model_input: dict[str, Any], embedded: str
) -> None:
    status = run(provider, model, **model_input)
    # The video is a file to download, not inline.
    download = requests.get(status.outputs[0], timeout=5)
    assert download.headers["Content-Type"] == "video/mp4"
    assert download.content[4:12] == b"ftypisom"
    assert sim_outputs.made_from(download.content) == {"model": model, "input": model_input}
    assert sim_outputs.made_from(download.content)["input"][embedded] == model_input[embedded]


def test_other_models_keep_their_png_files(provider: SimulatorProvider) -> None:
    status = run(provider, "sim-image", prompt="a cat")
    download = requests.get(status.outputs[0], timeout=5)
    assert download.headers["Content-Type"] == "image/png"
    assert download.content.startswith(b"\x89PNG")


def test_a_tasks_options_override_its_models_defaults(provider: SimulatorProvider) -> None:
    status = run(provider, "sim-avatar", audio="a.wav", sim={"outputFormat": "png", "inline": True})
    assert status.outputs[0].startswith("data:image/png;base64,")
