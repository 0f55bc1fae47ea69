"""A pipeline as the API takes it: named steps that feed each other (docs/design/pipelines.md).

A step's `input` is a template: a string that is exactly one `${path}` takes the value the path
finds (any JSON type), and `${path}` inside a longer string is replaced by its text. A path is a
JMESPath expression over `input` (the job's input), `item` and `index` (the element of the step it
runs for each of) and `steps.<name>` (a step it depends on: `tasks`, `outputs`, `results`, in item
order). logic.pipelines checks every reference when the job is created.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from genjobs.models import stored
from genjobs.models.domain import StepKind
from genjobs.models.stored import VALID_TEXT

StepName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"),
    Field(description="Unique within the job: letters, digits, `_` and `-`, at most 32."),
]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), VALID_TEXT]
MatrixName = Annotated[str, StringConstraints(min_length=1, max_length=64), VALID_TEXT]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ForEach(_Request):
    """One task per element of an earlier step: its `items` (a text output split by a path), or its
    tasks (scene i's avatar from scene i's speech). Item i of this step comes from item i of that."""

    step: StepName
    max: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Most elements: required when the size is only known later (a step with `items`); "
        "this many tasks' credits are reserved up front and those never planned are released.",
    )


class Needs(StrEnum):
    ALL = "all"  # skipped when any input did not complete
    SUCCEEDED = "succeeded"  # runs on the inputs that completed (skipped when none did)


class OverAll(_Request):
    """One task over every output of earlier steps, in item order (a render over every scene)."""

    steps: list[StepName] = Field(min_length=1, max_length=20)
    needs: Needs = Needs.ALL


class OnTimeout(StrEnum):
    FAIL = "fail"  # the signal step fails: what depends on it is skipped
    SKIP = "skip"  # the signal step and what depends on it are skipped
    PROCEED = "proceed"  # the signal step completes with {"timedOut": true}: its dependents run


class StepRequest(_Request):
    name: StepName
    kind: StepKind = Field(
        default=StepKind.ASYNC,
        description="`async`: submitted to the provider, polled or called back; `sync`: one provider "
        "call answering with the output; `lambda`: the app's own function (`function`); `signal`: waits "
        "for POST /jobs/{jobId}/signals/{name}.",
    )
    provider: ModelName | None = Field(default=None, description="For `async` and `sync` steps.")
    model: ModelName | None = Field(default=None, description="For `async` and `sync` steps.")
    function: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = Field(
        default=None,
        description="For `lambda` steps: the name or ARN of one of the deployment's AppFunctionArns.",
    )
    input: Annotated[dict[str, Any], stored.within(1)] = Field(
        default_factory=dict, description="The input template of each task of the step."
    )
    tasks: list[Annotated[dict[str, Any], stored.within(3)]] | None = Field(
        default=None, description="Explicit per-task values, merged over the rendered input."
    )
    matrix: dict[MatrixName, list[Annotated[Any, stored.within(4)]]] | None = Field(
        default=None, max_length=8
    )
    count: int | None = Field(default=None, ge=1, description="This many tasks (of the matrix, or alike).")
    for_each: ForEach | None = Field(default=None, alias="forEach")
    over_all: OverAll | None = Field(default=None, alias="overAll")
    after: list[StepName] = Field(
        default_factory=list,
        max_length=20,
        description="Steps that must end first (no data taken from them).",
    )
    items: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = Field(
        default=None,
        description="Splits this step's result into items for `forEach` steps: a JMESPath into it, e.g. "
        "`scenes`. The step must have one task.",
    )
    timeout_seconds: int | None = Field(
        default=None, alias="timeoutSeconds", ge=1, description="`signal` steps: how long to wait."
    )
    on_timeout: OnTimeout = Field(
        default=OnTimeout.FAIL,
        alias="onTimeout",
        description="`signal` steps, when no signal came in time: `fail` (what depends on it is skipped), "
        "`skip` (it and what depends on it are skipped) or `proceed` (it completes with "
        '`{"timedOut": true}` and the steps after it run).',
    )


class StepSpec(BaseModel):
    """A step as stored with the job's spec: the request's step, checked, with its place."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    number: int
    request: StepRequest
    depends: list[str] = Field(default_factory=list, description="Every step this one waits for.")
    price: int
    base: int
    slots: int
    fixed_size: int | None = Field(default=None, alias="fixedSize", description="Known at creation.")
    model_waits_by: Literal["poll", "webhook"] | None = Field(default=None, alias="modelWaitsBy")
