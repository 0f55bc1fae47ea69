"""The messages between the workflow's steps are contracts: their committed schemas are the models,
every console event parses with its function's input model, and the state machine sends each Lambda
and queue exactly the fields its input model declares and reads only fields that are there."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model, EventBridgeModel
from pydantic import BaseModel

from genjobs.models import messages as m
from genjobs.models.records import (
    BulkQueueRecord,
    DispatchQueueRecord,
    JobEventRecord,
    RunQueueRecord,
    SubmitQueueRecord,
)
from genjobs.models.webhook import WebhookQuery

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import message_schemas  # noqa: E402

pytestmark = pytest.mark.contract

ASL = json.loads((ROOT / "statemachine" / "generation.asl.json").read_text())

# What each Lambda and queue the state machine calls reads, and what it answers.
CALLS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "${PrepareJobFunctionArn}": (m.PrepareJobInput, m.PrepareJobOutput),
    "${PlanTasksFunctionArn}": (m.PlanTasksInput, m.PlanTasksOutput),
    "${PollTaskFunctionArn}": (m.PollTaskInput, m.PollTaskOutput),
    "${FailTaskFunctionArn}": (m.FailTaskInput, m.FailTaskOutput),
    "${SettleJobFunctionArn}": (m.SettleJobInput, m.SettleJobOutput),
    "${SubmitQueueUrl}": (m.SubmitTask, m.TaskEnded),
}
EXECUTION_INPUT = m.PrepareJobInput  # what the API starts an execution with
MAP_ITEM = m.ManifestItem  # what PrepareJob and PlanTasks write to the Distributed Map's manifest
INLINE_ITEMS = {"$.tasks": m.ManifestTask}  # what an inline Map iterates over, by its ItemsPath


# ----------------------------------------------------------------------------- committed schemas
def test_committed_message_schemas_match_the_models() -> None:
    # GIVEN the schemas generated from the models now
    generated = message_schemas.generate()
    # THEN they are the committed ones, no more and no fewer (run `make schemas` after a change)
    assert message_schemas.differences(generated) == []


def test_a_changed_model_shows_as_a_changed_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN PrepareJob's output gains a field
    class Grown(m.PrepareJobOutput):
        retry_budget: int = 0

    listed = message_schemas.messages()
    listed["prepare-job-output"] = ("PrepareJobOutput", Grown)
    monkeypatch.setattr(message_schemas, "messages", lambda: listed)
    # THEN its committed schema is reported stale
    assert message_schemas.differences(message_schemas.generate()) == ["docs/schemas/prepare-job-output.json"]


# ----------------------------------------------------------------------------- events/
def _sqs_records(model: type[BaseModel]) -> Any:
    return lambda event: [model.model_validate(record) for record in event["Records"]]


def _webhook(event: Any) -> Any:
    request = APIGatewayProxyEventV2Model.model_validate(event)
    return WebhookQuery.model_validate(request.queryStringParameters or {})


def _live_socket(event: dict[str, Any]) -> Any:
    """The WebSocket route's event, by route; a message's body is the `subscribe` frame."""
    from aws_lambda_powertools.utilities.parser.models import (
        APIGatewayWebSocketDisconnectEventModel,
        APIGatewayWebSocketMessageEventModel,
    )

    from genjobs.handlers.live_socket import ConnectEvent
    from genjobs.models.live import SubscribeMessage

    route = event["requestContext"]["routeKey"]
    if route == "$connect":
        return ConnectEvent.model_validate(event)
    if route == "$disconnect":
        return APIGatewayWebSocketDisconnectEventModel.model_validate(event)
    return SubscribeMessage.model_validate_json(
        APIGatewayWebSocketMessageEventModel.model_validate(event).body
    )


def _live_stream(event: dict[str, Any]) -> Any:
    from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

    return DynamoDBStreamModel.model_validate(event)


def _sweeper_schedule(event: dict[str, Any]) -> Any:
    # The schedule's Input: a console event stands for a pass meant for its time.
    parsed = m.SweeperSchedule.model_validate(event)
    assert parsed.scheduled_time is not None
    return parsed


EVENT_PARSERS = {
    "live-function": _live_stream,
    "live-socket-function": _live_socket,
    "prepare-job-function": m.PrepareJobInput.model_validate,
    "plan-tasks-function": m.PlanTasksInput.model_validate,
    "poll-task-function": m.PollTaskInput.model_validate,
    "fail-task-function": m.FailTaskInput.model_validate,
    "settle-job-function": m.SettleJobInput.model_validate,
    "submitter-function": _sqs_records(SubmitQueueRecord),
    "submit-dead-letter-function": _sqs_records(SubmitQueueRecord),
    "runner-function": _sqs_records(RunQueueRecord),
    "bulk-function": _sqs_records(BulkQueueRecord),
    "notifier-function": _sqs_records(JobEventRecord),
    "webhook-function": _webhook,
    "api-function": APIGatewayProxyEventV2Model.model_validate,
    "console-function": APIGatewayProxyEventV2Model.model_validate,
    "sweeper-function": _sweeper_schedule,
    # Nudges from its queue, or its schedule's event.
    "dispatcher-function": lambda e: (
        _sqs_records(DispatchQueueRecord)(e) if "Records" in e else EventBridgeModel.model_validate(e)
    ),
}
EVENT_FILES = sorted((ROOT / "events").glob("*/*.json"))


def test_every_event_folder_has_an_input_model() -> None:
    assert {p.parent.name for p in EVENT_FILES} == set(EVENT_PARSERS)


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_console_event_parses_with_its_functions_input_model(path: Path) -> None:
    EVENT_PARSERS[path.parent.name](json.loads(path.read_text()))


def test_the_submit_queue_events_are_each_message_kind() -> None:
    folder = ROOT / "events" / "submitter-function"
    kinds = {
        p.name: type(_sqs_records(SubmitQueueRecord)(json.loads(p.read_text()))[0].body)
        for p in folder.glob("*.json")
    }
    assert kinds == {"submit.json": m.SubmitTask, "cancel-job.json": m.CancelJob}


# ----------------------------------------------------------------------------- the state machine
# A shape is what a state's input is known to hold: field name -> its own shape, or ANY where the
# models say nothing more (a string, a number, a list).
Shape = dict[str, Any]
ANY: Shape = {"*": None}
PATH_FIELDS = (
    "InputPath",
    "ItemsPath",
    "MaxConcurrencyPath",
    "HeartbeatSecondsPath",
    "TimeoutSecondsPath",
    "SecondsPath",
    "TimestampPath",
)


def shape(model: Any) -> Shape:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ANY
    return {(f.alias or name): shape(f.annotation) for name, f in model.model_fields.items()}


def resolve(path: str, data: Shape, where: str) -> Iterator[str]:
    """Problems of reading `path` ($.a.b) from `data`."""
    if path == "$":
        return
    node = data
    for part in path.removeprefix("$.").split("."):
        if node is ANY:
            return
        if part not in node:
            yield f"{where} reads {path}, which its input does not have (it has {sorted(node)})"
            return
        node = node[part]


def put(data: Shape, result_path: str | None, result: Shape) -> Shape:
    """A state's output after its ResultPath."""
    if result_path is None:
        return data
    if result_path == "$":
        return result
    return {**data, result_path.removeprefix("$."): result}


def sent_paths(template: Any) -> Iterator[tuple[str, str]]:
    """(key, path) of every value a Parameters/ItemSelector template reads."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                yield key.removesuffix(".$"), value
            else:
                yield from sent_paths(value)


def keys_of(body: dict[str, Any]) -> set[str]:
    return {key.removesuffix(".$") for key in body}


def check_template(template: Any, data: Shape, where: str, item: Shape | None = None) -> Iterator[str]:
    for _, path in sent_paths(template):
        if path.startswith("$$.Map.Item.Value.") and item is not None:
            yield from resolve("$." + path.removeprefix("$$.Map.Item.Value."), item, f"{where} (map item)")
        elif path.startswith("$$."):
            continue  # the context object: the task token, the execution
        else:
            yield from resolve(path, data, where)


def check_machine(machine: dict[str, Any], start_input: Shape, item: Shape | None = None) -> list[str]:
    """Follows every path through the states, carrying what each state's input holds."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    pending = [(machine["StartAt"], start_input)]
    while pending:
        name, data = pending.pop()
        key = (name, json.dumps(data, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        state = machine["States"][name]
        problems += [p for field in PATH_FIELDS if field in state for p in resolve(state[field], data, name)]
        nexts, output = _run_state(name, state, data, item, problems)
        for catch in state.get("Catch", []):
            pending.append((catch["Next"], put(data, catch.get("ResultPath", "$"), shape(m.CaughtError))))
        pending += [(n, output) for n in nexts]
    return problems


def _run_state(
    name: str, state: dict[str, Any], data: Shape, item: Shape | None, problems: list[str]
) -> tuple[list[str], Shape]:
    kind = state["Type"]
    nexts = [state["Next"]] if "Next" in state else []
    if kind == "Choice":
        problems += [p for c in state["Choices"] for p in resolve(c["Variable"], data, name)]
        return [c["Next"] for c in state["Choices"]] + [state["Default"]], data
    if kind == "Wait":
        return nexts, data
    if kind == "Map":
        problems += list(check_template(state.get("ItemReader", {}).get("Parameters", {}), data, name))
        item_shape = shape(
            MAP_ITEM if "ItemReader" in state else INLINE_ITEMS.get(state.get("ItemsPath", ""))
        )
        problems += list(check_template(state["ItemSelector"], data, name, item_shape))
        child: Shape = {}
        for key, path in sent_paths(state["ItemSelector"]):
            source = item_shape if path.startswith("$$.Map.Item.Value.") else data
            field = path.removeprefix("$$.Map.Item.Value.").removeprefix("$.")
            child[key] = source.get(field, ANY) if source is not ANY else ANY
        problems += check_machine(state["ItemProcessor"], child, item_shape)
        return nexts, put(data, state.get("ResultPath", "$"), ANY)
    if kind == "Task":
        parameters = state["Parameters"]
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            target, body = parameters["FunctionName"], parameters["Payload"]
        elif state["Resource"].startswith("arn:aws:states:::sqs:sendMessage"):
            target, body = parameters["QueueUrl"], parameters["MessageBody"]
        else:
            problems.append(f"{name}: no message model for {state['Resource']}: add it to CALLS")
            return nexts, ANY
        sends, answers = CALLS[target]
        if keys_of(body) != set(shape(sends)):
            problems.append(
                f"{name} sends {sorted(keys_of(body))} where {sends.__name__} has {sorted(shape(sends))}"
            )
        problems += list(check_template(parameters, data, name, item))
        result = {"Payload": shape(answers)} if "lambda:invoke" in state["Resource"] else shape(answers)
        output = put(data, state.get("ResultPath", "$"), result)
        if state.get("OutputPath", "$") != "$":
            output = output[state["OutputPath"].removeprefix("$.")]
        return nexts, output
    problems.append(f"{name}: a {kind} state: teach check_machine what it passes on")
    return nexts, ANY


def test_the_state_machine_sends_and_reads_only_the_messages_fields() -> None:
    assert check_machine(ASL, shape(EXECUTION_INPUT)) == []


def test_a_state_reading_a_field_its_input_lacks_is_found() -> None:
    # GIVEN the Map reads a manifest key PrepareJob does not answer
    asl = copy.deepcopy(ASL)
    asl["States"]["RunTasks"]["ItemReader"]["Parameters"]["Key.$"] = "$.manifest"
    # THEN the check names the state and the field, on each way in (after PrepareJob, after PlanTasks)
    assert check_machine(asl, shape(EXECUTION_INPUT)) == [
        f"RunTasks reads $.manifest, which its input does not have (it has {sorted(shape(model))})"
        for model in (m.PrepareJobOutput, m.PlanTasksOutput)
    ]


def test_a_lambda_sent_a_field_its_model_lacks_is_found() -> None:
    # GIVEN the poll is sent one more field than PollTaskInput declares
    asl = copy.deepcopy(ASL)
    batch = asl["States"]["RunTasks"]["ItemProcessor"]["States"]["RunBatch"]
    polled = batch["ItemProcessor"]["States"]
    polled["CheckCancellationAndStatus"]["Parameters"]["Payload"]["attempt.$"] = "$$.State.RetryCount"
    # THEN the check names the state
    assert any(
        p.startswith("CheckCancellationAndStatus sends") for p in check_machine(asl, shape(EXECUTION_INPUT))
    )
