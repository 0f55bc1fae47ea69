"""What cfn-lint cannot see: handlers exist, ASL placeholders are wired, logs are retained."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import function_property, load_template, resources_of_type

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# Wired before the states that use them: RunQueue's URL for the pipeline steps the runner answers.
WIRED_AHEAD: set[str] = set()


def _top_level_names(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _functions(template: dict[str, Any]) -> list[str]:
    return sorted(resources_of_type(template, "AWS::Serverless::Function"))


@pytest.fixture(params=sorted(resources_of_type(load_template(), "AWS::Serverless::StateMachine")))
def state_machine(request: pytest.FixtureRequest, template: dict[str, Any]) -> dict[str, Any]:
    machine: dict[str, Any] = template["Resources"][request.param]
    return machine


def test_template_has_functions_and_state_machines(template: dict[str, Any]) -> None:
    assert _functions(template)
    assert resources_of_type(template, "AWS::Serverless::StateMachine")


@pytest.mark.parametrize("logical_id", _functions(load_template()))
def test_handler_points_to_a_callable_in_the_code_package(
    root: Path, template: dict[str, Any], logical_id: str
) -> None:
    # GIVEN the function's Handler "genjobs.handlers.api.handler" and its CodeUri
    function = template["Resources"][logical_id]
    handler = function_property(template, function, "Handler")
    code_uri = root / function_property(template, function, "CodeUri")
    module_name, _, attribute = handler.rpartition(".")

    # WHEN the module is looked up the way the Lambda runtime imports it
    module_path = code_uri / Path(*module_name.split("."))
    candidates = [module_path.with_suffix(".py"), module_path / "__init__.py"]
    module = next((path for path in candidates if path.is_file()), None)

    # THEN it exists and defines the handler at top level
    assert module is not None, f"{logical_id}: no module for {handler} under {code_uri}"
    assert attribute in _top_level_names(module), f"{logical_id}: {module} does not define {attribute}"


def test_definition_substitutions_match_the_asl_placeholders(
    root: Path, state_machine: dict[str, Any]
) -> None:
    props = state_machine["Properties"]
    used = set(PLACEHOLDER.findall((root / props["DefinitionUri"]).read_text()))
    defined = set(props.get("DefinitionSubstitutions", {}))

    assert used - defined == set(), "placeholders in the ASL without a DefinitionSubstitution"
    assert defined - used <= WIRED_AHEAD, "DefinitionSubstitutions the ASL never uses"


def test_asl_is_valid_json_with_a_start_state(root: Path, state_machine: dict[str, Any]) -> None:
    definition = json.loads((root / state_machine["Properties"]["DefinitionUri"]).read_text())
    assert definition["StartAt"] in definition["States"]


def test_every_function_logs_to_its_own_log_group_with_retention(template: dict[str, Any]) -> None:
    """Stands in for cfn-lint WS1004, which does not understand LoggingConfig.LogGroup."""
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    used: list[str] = []
    for logical_id in _functions(template):
        logging_config = function_property(template, template["Resources"][logical_id], "LoggingConfig")
        ref = (logging_config or {}).get("LogGroup", {})
        assert isinstance(ref, dict), f"{logical_id}: no LoggingConfig.LogGroup"
        assert "Ref" in ref, f"{logical_id}: LoggingConfig.LogGroup is not a Ref"
        assert ref["Ref"] in log_groups, f"{logical_id}: {ref['Ref']} is not a log group of this template"
        assert "RetentionInDays" in log_groups[ref["Ref"]]["Properties"], f"{ref['Ref']}: no retention"
        used.append(ref["Ref"])
    assert len(used) == len(set(used)), "functions share a log group"


def test_the_workflows_own_files_expire_and_outputs_never_do(root: Path, template: dict[str, Any]) -> None:
    from genjobs.logic.jobs import spec_key
    from genjobs.logic.outputs import output_key
    from genjobs.logic.preparation import manifest_key

    rules = template["Resources"]["OutputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {
        rule["Prefix"] for rule in rules if rule["Status"] == "Enabled" and "ExpirationInDays" in rule
    }
    asl = json.loads((root / "statemachine" / "generation.asl.json").read_text())
    map_results = {
        state["ResultWriter"]["Parameters"]["Prefix"].rstrip("/") + "/"
        for state in asl["States"].values()
        if "ResultWriter" in state
    }
    # GIVEN every file the workflow writes for itself: task manifests, big job specs, Map run results
    own = {manifest_key("j").split("/")[0] + "/", spec_key("j").split("/")[0] + "/", *map_results}
    # THEN each of their prefixes has an expiry rule, and no rule reaches the users' outputs
    assert own <= expiring, f"never expire: {own - expiring}"
    output = output_key("user", "job", 0, 0, ".png")
    assert not any(output.startswith(prefix) for prefix in expiring)
