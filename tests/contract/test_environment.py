"""Each function's environment in template.yaml holds exactly the settings its code reads.

What a function's code reads is found in its source: the genjobs modules its handler imports (at
any depth, imports inside functions included) and, in them, every attribute named like a setting
(`settings.output_bucket`), like a method of Settings that reads settings
(`settings.app_function_arn(...)` reads APP_FUNCTION_ARNS) or like a collaborator of genjobs.deps.Deps
that reads settings when built (`deps.storage` reads OUTPUT_BUCKET). It counts what a module could read, not only what a
run happens to read: a function is given every setting its loaded code may ask for.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from genjobs.settings import Settings
from tests.support.template import template

pytestmark = pytest.mark.contract

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "genjobs"


@cache
def modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def imported(tree: ast.Module) -> set[str]:
    """The genjobs modules a module imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # submodules
    return {name for name in names if name in modules()}


def loaded_by(handler_module: str) -> set[str]:
    seen, todo = set(), [handler_module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(imported(modules()[name]) - seen)
    return seen


def attributes(tree: ast.AST) -> set[str]:
    """Attributes read from other objects (an object's own `self.x` is no setting)."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    }


def setting_variables() -> dict[str, str]:
    """Settings field -> its environment variable."""
    return {name: str(field.alias) for name, field in Settings.model_fields.items()}


def configured() -> set[str]:
    """The settings the template gives (resources, parameters); the others are tunables whose
    defaults hold unless a deployment sets them."""
    given = set(template()["Globals"]["Function"]["Environment"]["Variables"])
    for properties in functions().values():
        given |= set(properties.get("Environment", {}).get("Variables", {}))
    resources = {str(f.alias) for f in Settings.model_fields.values() if f.default is None}
    return (given & set(setting_variables().values())) | resources


def class_of(module: str, name: str) -> ast.ClassDef:
    (found,) = (
        node for node in modules()[module].body if isinstance(node, ast.ClassDef) and node.name == name
    )
    return found


@cache
def collaborators() -> dict[str, set[str]]:
    """Each Deps attribute that reads settings -> the settings it reads."""
    deps = class_of("genjobs.deps", "Deps")
    members: dict[str, ast.AST] = {}
    for member in deps.body:
        if isinstance(member, ast.FunctionDef):  # a property
            members[member.name] = member
        elif isinstance(member, ast.AnnAssign) and isinstance(member.target, ast.Name) and member.value:
            members[member.target.id] = member.value  # built from the settings by a function
    return {
        name: read
        for name, member in members.items()
        if (read := attributes(member) & setting_variables().keys())
    }


@cache
def setting_methods() -> dict[str, set[str]]:
    """Each method of Settings that reads settings -> the settings it reads (`self.<setting>`)."""
    settings = class_of("genjobs.settings", "Settings")
    return {
        member.name: read
        for member in settings.body
        if isinstance(member, ast.FunctionDef)
        and (
            read := {
                node.attr
                for node in ast.walk(member)
                if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            }
            & setting_variables().keys()
        )
    }


def settings_read(handler_module: str) -> set[str]:
    """The variables of the settings the code a handler loads may read."""
    read: set[str] = set()
    for name in loaded_by(handler_module) - {"genjobs.settings", "genjobs.deps"}:
        used = attributes(modules()[name])
        read |= used & setting_variables().keys()
        for method in used & setting_methods().keys():
            read |= setting_methods()[method]
        for collaborator in used & collaborators().keys():
            read |= collaborators()[collaborator]
    return {setting_variables()[name] for name in read} & configured()


def functions() -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def environment(properties: dict[str, Any]) -> set[str]:
    """The variables a function is given (Globals, then its own), as SAM merges them."""
    shared = template()["Globals"]["Function"]["Environment"]["Variables"]
    own = properties.get("Environment", {}).get("Variables", {})
    return set(shared) | set(own)


@pytest.mark.parametrize("function", sorted(functions()))
def test_a_function_is_given_exactly_the_settings_its_code_reads(function: str) -> None:
    # GIVEN the function's handler and its environment
    properties = functions()[function]
    handler_module = properties["Handler"].rpartition(".")[0]
    given = environment(properties) & configured()

    # THEN every setting its code may read is there (a missing one fails where it is read), and no
    # setting it never reads
    read = settings_read(handler_module)
    assert given == read, {"missing": sorted(read - given), "unread": sorted(given - read)}


def test_shared_settings_are_the_ones_every_function_reads() -> None:
    # GIVEN the settings every function's code reads
    everyone = set.intersection(
        *(settings_read(p["Handler"].rpartition(".")[0]) for p in functions().values())
    )

    # THEN they, and only they among the settings, are in the template's Globals
    shared = set(template()["Globals"]["Function"]["Environment"]["Variables"])
    assert shared & configured() == everyone


def test_what_a_function_reads_is_found_through_its_collaborators() -> None:
    # GIVEN the code of the submitter, which stores outputs (deps.storage) but never names the bucket
    # THEN the bucket is among what it reads, and the idempotency table (the API's only) is not
    read = settings_read("genjobs.handlers.submitter")
    assert "OUTPUT_BUCKET" in read
    assert "IDEMPOTENCY_TABLE_NAME" not in read


def test_what_a_function_reads_is_found_through_the_settings_methods() -> None:
    # GIVEN the runner, which resolves a step's function by Settings.app_function_arn, never naming
    # app_function_arns itself
    # THEN the app functions' ARNs are among what it reads (and the API's, which checks a pipeline's
    # functions when it is created), not the submitter's (which invokes none)
    assert setting_methods()["app_function_arn"] == {"app_function_arns"}
    assert "APP_FUNCTION_ARNS" in settings_read("genjobs.handlers.runner")
    assert "APP_FUNCTION_ARNS" in settings_read("genjobs.handlers.api")
    assert "APP_FUNCTION_ARNS" not in settings_read("genjobs.handlers.submitter")
