"""An app's own Lambda function that a pipeline step invokes: the render of the video pipeline,
which joins every scene's avatar and background, in scene order, into one file.

This is the local stand-in for the app's FFmpeg concat: it downloads every file as the real render
would, then writes a render manifest (JSON) instead of a video, listing each scene in order with
its avatar's and background's size and sha256, so a test can check that the render received every
scene's files and in which order. It needs nothing but the standard library and no AWS permission:
its inputs are presigned URLs.

The contract (docs/schemas/app-function-request.json, app-function-result.json):
    event:  {"jobId", "taskIndex", "step", "input": {"scenes": [{"avatar": url, "background": url}, ...]}}
            or, as a pipeline's overAll step gives them, the two lists in scene order:
            {"input": {"avatars": [url, ...], "backgrounds": [url, ...]}}
    answer: {"outputs": ["data:application/json;base64,<manifest>"],
             "result": {"scenes": n, "order": [0, 1, ...], "bytes": total downloaded}}
A scene without its two URLs, or a file that cannot be downloaded, fails the invocation
(Lambda's FunctionError, with the message saying which).
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from typing import Any

DOWNLOAD_TIMEOUT_SECONDS = 30
PARTS = ("avatar", "background")


def _download(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url[:40]!r}")
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        return bytes(response.read())


def _scenes(event: dict[str, Any]) -> list[dict[str, str]]:
    given = event.get("input") or {}
    scenes = given.get("scenes")
    if (
        scenes is None
        and isinstance(given.get("avatars"), list)
        and isinstance(given.get("backgrounds"), list)
    ):
        if len(given["avatars"]) != len(given["backgrounds"]):
            raise ValueError(
                f"{len(given['avatars'])} avatars for {len(given['backgrounds'])} backgrounds: one each per scene"
            )
        scenes = [
            {"avatar": a, "background": b}
            for a, b in zip(given["avatars"], given["backgrounds"], strict=True)
        ]
    if not isinstance(scenes, list) or not scenes:
        raise ValueError("input.scenes must be a non-empty list of {avatar, background} URLs")
    for number, scene in enumerate(scenes):
        if not isinstance(scene, dict) or not all(isinstance(scene.get(part), str) for part in PARTS):
            raise ValueError(f"input.scenes[{number}] needs an avatar and a background URL")
    return scenes


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scenes = _scenes(event)
    rendered, total = [], 0
    for number, scene in enumerate(scenes):
        entry: dict[str, Any] = {"scene": number}
        for part in PARTS:
            try:
                content = _download(scene[part])
            except OSError as error:
                raise RuntimeError(f"scene {number}: its {part} could not be downloaded ({error})") from error
            entry[part] = {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            total += len(content)
        rendered.append(entry)
    manifest = {"jobId": event.get("jobId"), "step": event.get("step"), "scenes": rendered, "bytes": total}
    encoded = base64.b64encode(json.dumps(manifest, sort_keys=True).encode()).decode()
    return {
        "outputs": [f"data:application/json;base64,{encoded}"],
        "result": {"scenes": len(rendered), "order": [entry["scene"] for entry in rendered], "bytes": total},
    }
