"""Replays every console test event under events/ twice against real jobs of one local stack.

The files keep their fixed job id and user (for the console); here each is rewritten on the fly to
a job that really ran: one COMPLETED (its output stored, charged, pushed) and one CANCELLED
mid-flight. Each replay must behave the same way both times (same status code, returned value or
error type) and the second must leave the state the first left: the job, its tasks, the user's
credits, the pushes the phone got, and the timeline (counted by kind, leaving out events that only
record an observation, like a poll or a sweep).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from genjobs_local.lambda_runtime import FunctionError
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, Phone, sim_job, wait_for

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


OBSERVATIONS = {"task.swept", "task.webhook_received", "task.poll_error", "task.throttled"}


@dataclass(frozen=True)
class Target:
    job_id: str
    user: Client
    phone: Phone


def _run_job(stack: LocalStack, operator: Client, *, cancelled: bool) -> Target:
    user = f"events-{uuid.uuid4().hex[:10]}"
    granted = operator.post("/admin/credits", json={"userId": user, "amount": 10, "grantId": f"g-{user}"})
    assert granted.status_code == 200, granted.text
    app = Client(stack, user)
    phone = Phone(app)
    if cancelled:
        job_id = app.create(sim_job(2, latency=500) | {"concurrency": 1})["jobId"]
        app.wait(job_id, until=lambda j: j["counts"]["PROCESSING"] == 1)
        assert app.post(f"/jobs/{job_id}/cancel").status_code == 202
    else:
        job_id = app.create(sim_job(1))["jobId"]
    job = app.wait(job_id)
    assert job["status"] == ("CANCELLED" if cancelled else "COMPLETED")
    wait_for(phone.pushes, what="the job's push")
    return Target(job_id, app, phone)


@pytest.fixture(scope="module")
def targets(stack: LocalStack, operator: Client) -> dict[str, Target]:
    return {
        "completed": _run_job(stack, operator, cancelled=False),
        "cancelled": _run_job(stack, operator, cancelled=True),
    }


def rewrite(path: Path, target: Target) -> Any:
    """The file's event aimed at the target's job and user (also inside string bodies)."""
    text = path.read_text().replace(JOB_ID, target.job_id).replace(USER, target.user.user)
    # a job created by a replayed POST /jobs is the target user's own, once per user
    text = text.replace("events-post-jobs-0001", f"events-post-jobs-{target.user.user}")
    return json.loads(text)


def _without_urls(value: Any) -> Any:
    """Presigned URLs are minted per read: everything else of a read must be equal."""
    if isinstance(value, dict):
        return {k: _without_urls(v) for k, v in value.items() if k != "url"}
    if isinstance(value, list):
        return [_without_urls(v) for v in value]
    return value


def state(stack: LocalStack, target: Target) -> dict[str, Any]:
    stack.wait_idle(timeout=60)
    app, job_id = target.user, target.job_id
    timeline = Counter(e["kind"] for e in app.events(job_id) if e["kind"] not in OBSERVATIONS)
    jobs = app.get("/jobs", params={"limit": 100}).json()["items"]
    return {
        "job": _without_urls(app.job(job_id)),
        "tasks": _without_urls(app.get(f"/jobs/{job_id}/tasks").json()),
        "jobs": _without_urls(sorted(jobs, key=lambda j: j["jobId"])),
        "credits": app.credits(),
        "pushes": sum(
            json.loads(json.loads(m)["GCM"])["data"]["jobId"] == job_id for m in target.phone.pushes()
        ),
        "timeline": timeline,
    }


@pytest.mark.parametrize("target_name", ["completed", "cancelled"])
@pytest.mark.parametrize("path", EVENT_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in EVENT_FILES])
def test_replaying_an_event_twice_at_a_real_job_leaves_the_state_of_one_replay(
    stack: LocalStack, targets: dict[str, Target], path: Path, target_name: str
) -> None:
    # GIVEN a job that really ran (completed, or cancelled mid-flight), settled and pushed
    target = targets[target_name]
    function = LOGICAL_BY_DIR[path.parent.name]
    event = rewrite(path, target)
    # WHEN the file's event, aimed at that job and its user, is replayed once, then again
    first = outcome(stack, function, copy.deepcopy(event))
    after_first = state(stack, target)
    second = outcome(stack, function, copy.deepcopy(event))
    after_second = state(stack, target)
    # THEN the second replay answered like the first and changed nothing the first had not
    assert second == first, f"{path.name}: first replay {first}, second {second}"
    assert after_second == after_first
    # AND the job's own settlement was not touched: charged and pushed once
    assert after_second["pushes"] == 1
    assert after_second["timeline"]["job.settled"] == 1
    assert after_second["job"]["status"] == target_name.upper()
