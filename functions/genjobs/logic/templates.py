"""Rendering a pipeline step's input template (models.pipeline) with JMESPath.

A string that is exactly one `${path}` becomes the value the path finds, whatever its JSON type; a
`${path}` inside a longer string becomes that value's text. A path that finds nothing is an error:
a template never sends a provider `null` where the app meant a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

REFERENCE = re.compile(r"\$\{([^{}]+)\}")
ROOTS = ("input", "item", "index", "steps")


class TemplateError(ValueError):
    """A template cannot be rendered; `where` is its place in the template (e.g. `input.prompt`)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def references(template: Any, where: str = "input") -> Iterator[tuple[str, str]]:
    """Every (place, path) the template refers to."""
    if isinstance(template, str):
        for match in REFERENCE.finditer(template):
            yield where, match.group(1).strip()
    elif isinstance(template, dict):
        for key, value in template.items():
            yield from references(value, f"{where}.{key}")
    elif isinstance(template, list):
        for n, value in enumerate(template):
            yield from references(value, f"{where}[{n}]")


def compile_path(where: str, path: str) -> Any:
    try:
        return jmespath.compile(path)
    except JMESPathError as error:
        raise TemplateError(where, f"'{path}' is not a valid JMESPath expression: {error}") from error


def root_of(path: str) -> str:
    """The first name of a path (`steps.script.results` -> `steps`)."""
    return re.split(r"[.\[|( ]", path.strip(), maxsplit=1)[0]


def step_of(path: str) -> str | None:
    """For a `steps.<name>...` path, the step it names."""
    match = re.match(r"\s*steps\.([A-Za-z][A-Za-z0-9_-]*)", path)
    return match.group(1) if match else None


def find(path: str, context: dict[str, Any], where: str) -> Any:
    value = compile_path(where, path).search(context)
    if value is None:
        raise TemplateError(where, f"'${{{path}}}' finds nothing")
    return value


def render(template: Any, context: dict[str, Any], where: str = "input") -> Any:
    if isinstance(template, str):
        whole = REFERENCE.fullmatch(template.strip())
        if whole:
            return find(whole.group(1).strip(), context, where)

        def text(match: re.Match[str]) -> str:
            value = find(match.group(1).strip(), context, where)
            return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

        return REFERENCE.sub(text, template)
    if isinstance(template, dict):
        return {key: render(value, context, f"{where}.{key}") for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, context, f"{where}[{n}]") for n, value in enumerate(template)]
    return template


def split_items(path: str, result: Any) -> list[Any]:
    """A step's items: the list its `items` path finds in its result (a JSON text is parsed first)."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError as error:
            raise TemplateError("items", "the step's result is text, not JSON") from error
    found = compile_path("items", path).search(result)
    if not isinstance(found, list):
        raise TemplateError("items", f"'{path}' finds {type(found).__name__}, not a list")
    return found
