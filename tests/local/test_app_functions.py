"""The app's own Lambda functions on the local stack: the example render is deployed next to the
template's functions, listed in AppFunctionArns, invoked by the runner through Lambda with files
served by the stack's S3, and no other function may be invoked that way (IAM, as on AWS)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from genjobs_local import LocalStack
from genjobs_local.iam import Check
from genjobs_local.lambda_runtime import FunctionError

RENDER = "genjobs-local-render"


def as_runner(stack: LocalStack, body: Callable[[], Any]) -> Any:
    """Runs `body()` as the RunnerFunction's code, in a real invocation (its role, its settings)."""
    stack.override_handler("RunnerFunction", lambda event, context: body())
    try:
        return stack.invoke("RunnerFunction", {})
    finally:
        stack.override_handler("RunnerFunction", None)


def request(scenes: list[dict[str, str]]) -> Any:
    from genjobs.models.messages import AppFunctionRequest

    return AppFunctionRequest(jobId="job-render", taskIndex=0, step="render", input={"scenes": scenes})


def invoke_render(scenes: list[dict[str, str]]) -> Any:
    """What the runner does for a step of kind lambda naming "render"; the error's type if it failed."""
    from genjobs.deps import deps
    from genjobs.logic import app_functions
    from genjobs.models.persistence import AppFunctionFailed

    try:
        return app_functions.invoke(deps(), "render", request(scenes)).to_wire()
    except AppFunctionFailed as failed:
        return {"failed": failed.error_type, "message": failed.message}


def presigned(stack: LocalStack, keys: dict[str, str]) -> dict[str, str]:
    """GET URLs of the output bucket's objects, presigned by the runner (as it will for its steps)."""
    from genjobs.dal import aws

    bucket = stack.resource("OutputBucket")
    return {
        name: aws.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
        )
        for name, key in keys.items()
    }


@pytest.fixture
def files(stack: LocalStack) -> dict[str, bytes]:
    """Two scenes' avatar and background videos, each with its own content, among the job's outputs."""
    prefix = f"outputs/app-fn/{uuid.uuid4().hex}"
    contents = {
        f"{prefix}/avatar-0.mp4": b"avatar of scene 0" * 100,
        f"{prefix}/background-0.mp4": b"background of scene 0" * 7,
        f"{prefix}/avatar-1.mp4": b"avatar 1" * 3,
        f"{prefix}/background-1.mp4": b"the background of scene one" * 50,
    }
    for key, content in contents.items():
        stack.client("s3").put_object(Bucket=stack.resource("OutputBucket"), Key=key, Body=content)
    return contents


def test_the_stack_deploys_the_render_and_lists_it_as_the_only_app_function(stack: LocalStack) -> None:
    # GIVEN the stack's app functions and the template parameter listing them
    arn = stack.app_functions[RENDER]
    assert stack.parameters["AppFunctionArns"] == [arn]
    assert stack.client("lambda").get_function(FunctionName=RENDER)["Configuration"]["FunctionArn"] == arn
    # THEN its role grants nothing: it reads its files through the presigned URLs it is given
    role = (
        stack.client("lambda").get_function(FunctionName=RENDER)["Configuration"]["Role"].rsplit("/", 1)[-1]
    )
    assert stack.client("iam").list_role_policies(RoleName=role)["PolicyNames"] == []
    assert stack.client("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_the_runner_invokes_the_render_with_every_scene_in_order(
    stack: LocalStack, files: dict[str, bytes]
) -> None:
    # GIVEN two scenes whose files the runner presigns: scene 1 listed first in the bucket's order
    keys = sorted(files)
    avatar_0, avatar_1, background_0, background_1 = keys

    def run() -> Any:
        urls = presigned(stack, {"a0": avatar_0, "b0": background_0, "a1": avatar_1, "b1": background_1})
        scenes = [
            {"avatar": urls["a0"], "background": urls["b0"]},
            {"avatar": urls["a1"], "background": urls["b1"]},
        ]
        return invoke_render(scenes)

    # WHEN the runner invokes "render" through Lambda
    answer = as_runner(stack, run)

    # THEN the render received every scene's avatar and background, in scene order
    assert answer["result"] == {"scenes": 2, "order": [0, 1], "bytes": sum(len(c) for c in files.values())}
    (output,) = answer["outputs"]
    assert output.startswith("data:application/json;base64,")
    manifest = json.loads(base64.b64decode(output.split(",", 1)[1]))

    def described(key: str) -> dict[str, Any]:
        return {"bytes": len(files[key]), "sha256": hashlib.sha256(files[key]).hexdigest()}

    assert manifest["scenes"] == [
        {"scene": 0, "avatar": described(avatar_0), "background": described(background_0)},
        {"scene": 1, "avatar": described(avatar_1), "background": described(background_1)},
    ]
    assert (manifest["jobId"], manifest["step"]) == ("job-render", "render")


def test_a_render_that_cannot_download_a_scene_fails_with_its_message(
    stack: LocalStack, files: dict[str, bytes]
) -> None:
    # GIVEN a second scene whose background is not in the bucket
    avatar_0, _, background_0, _ = sorted(files)

    def run() -> Any:
        urls = presigned(stack, {"a0": avatar_0, "b0": background_0, "gone": "outputs/app-fn/missing.mp4"})
        return invoke_render(
            [
                {"avatar": urls["a0"], "background": urls["b0"]},
                {"avatar": urls["a0"], "background": urls["gone"]},
            ]
        )

    # THEN the function's error reaches the runner as the task's failure, saying which file
    answer = as_runner(stack, run)
    assert answer["failed"] == "RuntimeError"
    assert answer["message"].startswith("scene 1: its background could not be downloaded")


def test_the_runner_may_invoke_no_function_but_the_listed_ones(stack: LocalStack) -> None:
    assert stack.identities is not None
    denials_before = len(stack.identities.denials)
    notifier = stack.client("lambda").get_function(FunctionName=stack.resource("NotifierFunction"))
    notifier_arn = notifier["Configuration"]["FunctionArn"]

    def run() -> Any:
        from genjobs.dal.functions import LambdaAppFunctions
        from genjobs.deps import deps
        from genjobs.logic import app_functions
        from genjobs.models.persistence import AppFunctionFailed

        outcomes = {}
        # A step naming a function of the stack that is not listed is refused before any call
        try:
            app_functions.invoke(deps(), notifier_arn, request([]))
        except AppFunctionFailed as failed:
            outcomes["named"] = failed.error_type
        # and a call made anyway is denied by the runner's role
        try:
            LambdaAppFunctions().invoke(notifier_arn, request([]).to_wire())
        except AppFunctionFailed as failed:
            outcomes["called"] = failed.error_type
        return outcomes

    assert as_runner(stack, run) == {"named": "FunctionNotListed", "called": "AccessDeniedException"}
    assert stack.identities.denials[denials_before:] == [
        Check("RunnerFunction", "lambda:InvokeFunction", notifier_arn)
    ]


def test_no_other_function_of_the_template_may_invoke_the_render(stack: LocalStack) -> None:
    # GIVEN the submitter, which calls providers but runs no pipeline step
    def run() -> Any:
        from genjobs.dal.functions import LambdaAppFunctions
        from genjobs.models.persistence import AppFunctionFailed

        try:
            LambdaAppFunctions().invoke(stack.app_functions[RENDER], request([]).to_wire())
        except AppFunctionFailed as failed:
            return failed.error_type
        return "ok"

    stack.override_handler("SubmitterFunction", lambda event, context: run())
    try:
        assert stack.invoke("SubmitterFunction", {}) == "AccessDeniedException"
    finally:
        stack.override_handler("SubmitterFunction", None)


def test_an_invocation_error_is_lambdas_error_payload(stack: LocalStack) -> None:
    # GIVEN the render invoked with no scenes, as an operator would from the console
    with pytest.raises(FunctionError) as failed:
        stack.invoke(RENDER, {"jobId": "j", "taskIndex": 0, "step": "render", "input": {}})
    assert failed.value.error_type == "ValueError"
    assert "input.scenes must be a non-empty list" in str(failed.value)


def test_each_step_sent_to_the_run_queue_reaches_the_runner_alone(stack: LocalStack, fake: Any) -> None:
    # GIVEN a fake runner
    runner = fake("RunnerFunction")

    # WHEN two steps are in its queue at once
    stack.client("sqs").send_message_batch(
        QueueUrl=stack.resource("RunQueue"),
        Entries=[
            {
                "Id": str(index),
                "MessageBody": json.dumps(
                    {"jobId": "job-run", "taskIndex": index, "taskToken": f"t-{index}"}
                ),
            }
            for index in (0, 1)
        ],
    )
    deadline = time.monotonic() + 10
    while len(runner.calls) < 2:
        assert time.monotonic() < deadline, f"{len(runner.calls)} runner invocations for 2 steps"
        time.sleep(0.05)

    # THEN each came in an invocation of its own (a step may run minutes: no step waits for another)
    assert sorted(len(call["Records"]) for call in runner.calls) == [1, 1]
    bodies = sorted(json.loads(call["Records"][0]["body"])["taskIndex"] for call in runner.calls)
    assert bodies == [0, 1]
