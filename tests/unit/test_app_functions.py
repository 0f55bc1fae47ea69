"""The app's own functions, as a pipeline step sees them: which ones a step may name (the template's
AppFunctionArns), and how Lambda's answers become a result or the port's errors."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from genjobs.dal import functions
from genjobs.dal.functions import LambdaAppFunctions
from genjobs.handlers import runner
from genjobs.logic import app_functions, running
from genjobs.models.messages import AppFunctionRequest, AppFunctionResult, RunTask
from genjobs.models.persistence import AppFunctionFailed, AppFunctionThrottled, AppFunctionTimedOut
from genjobs.settings import Settings
from tests.unit.fakes import fake_deps

RENDER = "arn:aws:lambda:us-east-1:123456789012:function:genjobs-prod-render"
THUMBS = "arn:aws:lambda:us-east-1:123456789012:function:genjobs-prod-thumbs"
EVENTS = Path(__file__).resolve().parents[2] / "events"
PAYLOAD = AppFunctionRequest(jobId="j1", taskIndex=0, step="render", input={"scenes": []}).to_wire()


# ----------------------------------------------------------------------------- which functions
def test_the_listed_functions_come_from_the_comma_separated_parameter() -> None:
    # GIVEN the template's AppFunctionArns joined with "," (or empty: no app function)
    assert Settings.model_validate({"APP_FUNCTION_ARNS": f"{RENDER},{THUMBS}"}).app_function_arns == [
        RENDER,
        THUMBS,
    ]
    assert Settings.model_validate({"APP_FUNCTION_ARNS": ""}).app_function_arns == []
    assert Settings.model_validate({}).app_function_arns == []


@pytest.mark.parametrize(
    ("function", "arn"),
    [
        (RENDER, RENDER),  # its ARN
        ("genjobs-prod-render", RENDER),  # its name
        ("render", RENDER),  # its name without the deployment's prefix
        ("thumbs", THUMBS),
        ("genjobs-prod-notifier", None),  # a function of the stack that is not listed
        ("arn:aws:lambda:us-east-1:123456789012:function:genjobs-prod-notifier", None),
        ("ender", None),  # a suffix, not the name after the prefix
    ],
)
def test_a_step_may_name_only_a_listed_function(function: str, arn: str | None) -> None:
    settings = Settings.model_validate({"APP_FUNCTION_ARNS": f"{RENDER},{THUMBS}"})
    assert settings.app_function_arn(function) == arn


def test_a_short_name_two_listed_functions_end_with_names_neither() -> None:
    other = RENDER.replace("genjobs-prod", "billing")
    settings = Settings.model_validate({"APP_FUNCTION_ARNS": f"{RENDER},{other}"})
    assert settings.app_function_arn("render") is None
    assert settings.app_function_arn("billing-render") == other


# ----------------------------------------------------------------------------- Lambda's answers
@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(functions, "_client", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def answers(stub: Stubber, body: Any, function_error: str | None = None) -> None:
    raw = json.dumps(body).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw))}
    if function_error:
        response["FunctionError"] = function_error
    expected = {
        "FunctionName": RENDER,
        "InvocationType": "RequestResponse",
        "Payload": json.dumps(PAYLOAD).encode(),
    }
    stub.add_response("invoke", response, expected)


def test_the_functions_answer_is_its_outputs_and_result(stub: Stubber) -> None:
    answers(stub, {"outputs": ["data:application/json;base64,e30="], "result": {"scenes": 2}})
    assert LambdaAppFunctions().invoke(RENDER, PAYLOAD) == AppFunctionResult(
        outputs=["data:application/json;base64,e30="], result={"scenes": 2}
    )


def test_a_function_that_raised_fails_with_its_error_message(stub: Stubber) -> None:
    answers(stub, {"errorType": "ValueError", "errorMessage": "scene 2 has no avatar"}, "Unhandled")
    with pytest.raises(AppFunctionFailed) as failed:
        LambdaAppFunctions().invoke(RENDER, PAYLOAD)
    assert (failed.value.error_type, failed.value.message) == ("ValueError", "scene 2 has no avatar")
    assert not isinstance(failed.value, AppFunctionTimedOut)


def test_a_function_that_ran_past_its_timeout_timed_out(stub: Stubber) -> None:
    message = "2026-12-02T03:00:00Z 1b2c Task timed out after 300.00 seconds"
    answers(stub, {"errorType": "Sandbox.Timedout", "errorMessage": message}, "Unhandled")
    with pytest.raises(AppFunctionTimedOut, match="Task timed out"):
        LambdaAppFunctions().invoke(RENDER, PAYLOAD)


@pytest.mark.parametrize("code", ["TooManyRequestsException", "EC2ThrottledException", "ServiceException"])
def test_a_throttled_invocation_is_retried_later_not_failed(stub: Stubber, code: str) -> None:
    stub.add_client_error(
        "invoke", service_error_code=code, service_message="Rate exceeded", http_status_code=429
    )
    with pytest.raises(AppFunctionThrottled, match=code):
        LambdaAppFunctions().invoke(RENDER, PAYLOAD)


def test_a_function_the_role_may_not_invoke_fails_the_task(stub: Stubber) -> None:
    stub.add_client_error(
        "invoke",
        service_error_code="AccessDeniedException",
        service_message="not authorized",
        http_status_code=403,
    )
    with pytest.raises(AppFunctionFailed, match="AccessDeniedException: not authorized"):
        LambdaAppFunctions().invoke(RENDER, PAYLOAD)


@pytest.mark.parametrize(
    "body",
    [None, ["not", "an", "object"], {"outputs": ["file:///etc/passwd"]}, {"outputs": "one"}],
    ids=["null", "list", "not-fetchable", "not-a-list"],
)
def test_an_answer_that_breaks_the_contract_fails_the_task(stub: Stubber, body: Any) -> None:
    answers(stub, body)
    with pytest.raises(AppFunctionFailed, match="InvalidAnswer"):
        LambdaAppFunctions().invoke(RENDER, PAYLOAD)


def test_no_answer_within_the_runners_lifetime_is_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    class Silent:
        def invoke(self, **_: Any) -> Any:
            raise ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    monkeypatch.setattr(functions, "_client", lambda: Silent())
    with pytest.raises(AppFunctionTimedOut):
        LambdaAppFunctions().invoke(RENDER, PAYLOAD)


# ----------------------------------------------------------------------------- a step of kind lambda
def test_a_step_runs_the_listed_function_it_names_on_its_request() -> None:
    # GIVEN a runner whose deployment lists the render, and the render's answer
    deps = fake_deps(APP_FUNCTION_ARNS=f"{RENDER},{THUMBS}")
    deps.app_functions.functions[RENDER] = lambda payload: {"outputs": [], "result": payload["input"]}

    # WHEN a step names it by its short name
    result = app_functions.invoke(deps, "render", AppFunctionRequest.model_validate(PAYLOAD))

    # THEN the listed ARN got the request as the contract spells it, and the answer is the result
    assert deps.app_functions.calls == [(RENDER, PAYLOAD)]
    assert result == AppFunctionResult(result={"scenes": []})


def test_a_step_naming_an_unlisted_function_fails_without_invoking_anything() -> None:
    deps = fake_deps(APP_FUNCTION_ARNS=RENDER)
    with pytest.raises(AppFunctionFailed, match="FunctionNotListed"):
        app_functions.invoke(deps, "thumbs", AppFunctionRequest.model_validate(PAYLOAD))
    assert deps.app_functions.calls == []


# ----------------------------------------------------------------------------- the RunQueue consumer
def test_the_runner_hands_each_run_queue_message_to_the_runner_logic(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the console event of the RunQueue consumer, one record of it malformed
    event = json.loads((EVENTS / "runner-function" / "run.json").read_text())
    good = event["Records"][0]
    bad = good | {"messageId": "bad", "body": '{"jobId": "j"}'}
    ran: list[RunTask] = []
    monkeypatch.setattr(running, "run", lambda deps, message, receive_count: ran.append(message))

    # WHEN the runner gets both
    answer = runner.handler(
        {"Records": [good, bad]},
        SimpleNamespace(
            function_name="genjobs-test-runner",
            function_version="$LATEST",
            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:genjobs-test-runner",
            memory_limit_in_mb="256",
            aws_request_id="r1",
        ),
    )

    # THEN the well-formed step ran, and only the malformed record is reported failed
    assert [(m.job_id, m.task_index, m.task_token) for m in ran] == [
        ("0b7f5a52-2f3e-4c55-9a43-5b1f4f0a1e01", 0, "events-task-token")
    ]
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
