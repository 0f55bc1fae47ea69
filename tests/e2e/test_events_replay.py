"""Replays every console test event under events/ twice against one local stack.

Each event must behave the same way both times (same status code, or the same error type) and leave
the same observable state (the fixed job and the events user's credits, read over HTTP).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from genjobs_local.lambda_runtime import FunctionError
from genjobs_local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
JOB_ID = "0b7f5a52-2f3e-4c55-9a43-5b1f4f0a1e01"
USER = "events-user"


class _CfnLoader(yaml.SafeLoader):
    """Reads template.yaml, ignoring the CloudFormation short-form tags (!Ref, !Sub, ...)."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_functions() -> list[str]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    return sorted(
        lid for lid, res in template["Resources"].items() if res.get("Type") == "AWS::Serverless::Function"
    )


def kebab(logical_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()


FUNCTIONS = template_functions()
EVENT_FILES = sorted(EVENTS.glob("*/*.json"))
LOGICAL_BY_DIR = {kebab(lid): lid for lid in FUNCTIONS}


def test_every_function_has_an_event() -> None:
    assert FUNCTIONS, "no functions found in template.yaml"
    missing = [lid for lid in FUNCTIONS if not list((EVENTS / kebab(lid)).glob("*.json"))]
    assert not missing, f"functions without an event under events/: {missing}"
    unknown = sorted({p.parent.name for p in EVENT_FILES} - set(LOGICAL_BY_DIR))
    assert not unknown, f"event folders that match no function: {unknown}"


def outcome(stack: LocalStack, function: str, event: Any) -> tuple[str, Any]:
    """How one invocation ended: an HTTP status code, a returned value, or an error type."""
    try:
        result = stack.invoke(function, event)
    except FunctionError as error:
        return ("error", error.error_type)
    if isinstance(result, dict) and "statusCode" in result:
        return ("http", result["statusCode"])
    return ("returned", result)


def _get(stack: LocalStack, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        stack.api_url.rstrip("/") + path, headers={"Authorization": f"Bearer {stack.mint_token(USER)}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def observable_state(stack: LocalStack) -> dict[str, Any]:
    stack.wait_idle(timeout=60)
    return {"job": _get(stack, f"/jobs/{JOB_ID}"), "credits": _get(stack, "/credits")}


@pytest.mark.parametrize("path", EVENT_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in EVENT_FILES])
def test_replaying_an_event_twice_is_stable(stack: LocalStack, path: Path) -> None:
    function = LOGICAL_BY_DIR[path.parent.name]
    event = json.loads(path.read_text())

    first = outcome(stack, function, json.loads(json.dumps(event)))
    state_after_first = observable_state(stack)
    second = outcome(stack, function, json.loads(json.dumps(event)))
    state_after_second = observable_state(stack)

    assert second == first, f"{path.name}: first replay {first}, second {second}"
    assert state_after_second == state_after_first
