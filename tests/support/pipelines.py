"""The pipelines the tests run: the OpenAPI document's seed 004 video pipeline (the API's own example,
functions/genjobs/routes/examples.json), adapted per test."""

from __future__ import annotations

import copy
from typing import Any

from genjobs.routes.examples import VIDEO_PIPELINE


def named(steps: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(s for s in steps if s["name"] == name)


def video_steps(
    *,
    approve: bool = False,
    most: int = 10,
    render: bool = True,
    sim: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The video pipeline's steps: without its approval step unless `approve`, each fan-out at most
    `most` scenes, without the render (an app function) unless `render`, and the simulator's `sim`
    knobs given to the named steps' inputs."""
    steps = copy.deepcopy(VIDEO_PIPELINE["steps"])
    if not approve:
        steps = [s for s in steps if s["name"] != "approve"]
        for step in steps:
            step["after"] = [name for name in step.get("after", []) if name != "approve"]
            if not step["after"]:
                del step["after"]
    if not render:
        steps = [s for s in steps if s["name"] != "render"]
    for step in steps:
        if step.get("forEach", {}).get("max"):
            step["forEach"]["max"] = most
    for name, knobs in (sim or {}).items():
        named(steps, name)["input"]["sim"] = knobs
    return steps
