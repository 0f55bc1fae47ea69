"""The body of POST /jobs from `genjobs create` flags (or a JSON or YAML job file with flags over it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class SpecError(ValueError):
    """A flag or file that cannot make a job body; a usage error (exit 2)."""


def parse_matrix_flag(text: str) -> tuple[str, list[Any]]:
    """`name=v1,v2` -> (name, ["v1", "v2"]); `name=[...]` takes a JSON list (numbers, objects)."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise SpecError(f"--matrix {text!r}: expected name=value1,value2")
    values = values.strip()
    if values.startswith("["):
        try:
            parsed = json.loads(values)
        except ValueError as error:
            raise SpecError(f"--matrix {name}: not a JSON list ({error})") from error
        if not isinstance(parsed, list) or not parsed:
            raise SpecError(f"--matrix {name}: give a non-empty JSON list")
        return name, parsed
    items = [v.strip() for v in values.split(",")]
    if not values or any(not v for v in items):
        raise SpecError(f"--matrix {text!r}: empty value (expected name=value1,value2)")
    return name, items


def matrix_from_flags(flags: list[str]) -> dict[str, list[Any]]:
    matrix: dict[str, list[Any]] = {}
    for flag in flags:
        name, values = parse_matrix_flag(flag)
        if name in matrix:
            raise SpecError(f"--matrix {name} given twice")
        matrix[name] = values
    return matrix


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise SpecError(f"{what}: not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise SpecError(f"{what}: expected a JSON object")
    return value


def read_tasks_file(path: Path) -> list[dict[str, Any]]:
    """A JSON list of task inputs, or JSON Lines (one object per line)."""
    text = _read(path, "--tasks-file").strip()
    if text.startswith("["):
        try:
            tasks = json.loads(text)
        except ValueError as error:
            raise SpecError(f"--tasks-file {path}: not valid JSON ({error})") from error
    else:
        tasks = [
            parse_json_object(line, f"--tasks-file {path} line {n}")
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip()
        ]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise SpecError(f"--tasks-file {path}: expected a list of JSON objects")
    return tasks


def read_job_file(path: Path) -> dict[str, Any]:
    """A job body from JSON, or from YAML when the name ends in .yaml or .yml (pipelines read better)."""
    text = _read(path, "--file")
    if path.suffix.lower() not in (".yaml", ".yml"):
        return parse_json_object(text, f"--file {path}")
    try:
        import yaml
    except ImportError as error:  # an install without the `cli` extra
        raise SpecError(f"--file {path}: YAML needs PyYAML (pip install 'genjobs[cli]')") from error
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(f"--file {path}: not valid YAML ({error})") from error
    if not isinstance(body, dict):
        raise SpecError(f"--file {path}: expected a mapping (the job's fields)")
    try:  # YAML has values JSON has not (an unquoted 2026-01-01 is a date)
        json.dumps(body)
    except (TypeError, ValueError) as error:
        raise SpecError(f"--file {path}: {error}; quote such values") from error
    return body


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise SpecError(f"{what} {path}: {error.strerror or error}") from error


def build_job_body(
    *,
    file: Path | None = None,
    provider: str | None = None,
    model: str | None = None,
    input_json: str | None = None,
    matrix: list[str] | None = None,
    count: int | None = None,
    tasks_file: Path | None = None,
    collection: str | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """The job file's body (if any) with every given flag over it; the API validates the rest.
    A pipeline (a file with `steps`) names its providers and models in its steps."""
    body = read_job_file(file) if file else {}
    flags: dict[str, Any] = {
        "provider": provider,
        "model": model,
        "input": parse_json_object(input_json, "--input") if input_json is not None else None,
        "matrix": matrix_from_flags(matrix) if matrix else None,
        "count": count,
        "tasks": read_tasks_file(tasks_file) if tasks_file else None,
        "collectionId": collection,
        "concurrency": concurrency,
    }
    body |= {name: value for name, value in flags.items() if value is not None}
    missing = [] if "steps" in body else [name for name in ("provider", "model") if not body.get(name)]
    if missing:
        raise SpecError(f"missing {' and '.join('--' + m for m in missing)} (or give them in --file)")
    return body
