"""The POST /jobs body `genjobs create` builds from its flags and files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genjobs_cli.jobspec import SpecError, build_job_body, matrix_from_flags, parse_matrix_flag

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("style=A,B,C", ("style", ["A", "B", "C"])),
        ("style = A , B ", ("style", ["A", "B"])),
        ("one=solo", ("one", ["solo"])),
        ("seed=[1, 2, 3]", ("seed", [1, 2, 3])),
        (
            'role=[{"role": "GROOM", "photo": "g.jpg"}, {"role": "BRIDE"}]',
            ("role", [{"role": "GROOM", "photo": "g.jpg"}, {"role": "BRIDE"}]),
        ),
        ("prompt=a=b", ("prompt", ["a=b"])),  # only the first = separates the name
    ],
)
def test_matrix_flag_reads_comma_separated_strings_or_a_json_list(
    flag: str, expected: tuple[str, list[object]]
) -> None:
    assert parse_matrix_flag(flag) == expected


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("style", "expected name=value1,value2"),
        ("=A,B", "expected name=value1,value2"),
        ("style=", "empty value"),
        ("style=A,,B", "empty value"),
        ("seed=[1, 2", "not a JSON list"),
        ("seed=[]", "non-empty JSON list"),
    ],
)
def test_malformed_matrix_flags_are_refused_with_the_reason(flag: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_matrix_flag(flag)


def test_a_matrix_dimension_given_twice_is_refused() -> None:
    with pytest.raises(SpecError, match="style given twice"):
        matrix_from_flags(["style=A", "role=B", "style=C"])


def test_flags_make_the_whole_body() -> None:
    # GIVEN every create flag
    # WHEN the body is built
    body = build_job_body(
        provider="simulator",
        model="sim-image",
        input_json='{"prompt": "wedding"}',
        matrix=["style=A,B", "role=GROOM,BRIDE"],
        count=3,
        collection="album-1",
        concurrency=2,
    )
    # THEN it is the API's CreateJobRequest, camelCase names included
    assert body == {
        "provider": "simulator",
        "model": "sim-image",
        "input": {"prompt": "wedding"},
        "matrix": {"style": ["A", "B"], "role": ["GROOM", "BRIDE"]},
        "count": 3,
        "collectionId": "album-1",
        "concurrency": 2,
    }


def test_flags_override_the_job_file_and_the_rest_of_the_file_is_kept(tmp_path: Path) -> None:
    # GIVEN a job file
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps({"provider": "simulator", "model": "sim-image", "count": 8, "metadata": {"a": "b"}})
    )
    # WHEN it is given with --count and --collection
    body = build_job_body(file=job, count=2, collection="c1")
    # THEN the flags win and the file's other fields stay
    assert body == {
        "provider": "simulator",
        "model": "sim-image",
        "count": 2,
        "metadata": {"a": "b"},
        "collectionId": "c1",
    }


@pytest.mark.parametrize(
    "content",
    ['[{"seed": 1}, {"seed": 2}]', '{"seed": 1}\n\n{"seed": 2}\n'],
    ids=["json-list", "json-lines"],
)
def test_tasks_file_is_a_json_list_or_json_lines(tmp_path: Path, content: str) -> None:
    tasks = tmp_path / "tasks"
    tasks.write_text(content)
    body = build_job_body(provider="simulator", model="sim-image", tasks_file=tasks)
    assert body["tasks"] == [{"seed": 1}, {"seed": 2}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "sim-image"}, "missing --provider"),
        ({}, "missing --provider and --model"),
        ({"provider": "p", "model": "m", "input_json": "[1]"}, "--input: expected a JSON object"),
        ({"provider": "p", "model": "m", "input_json": "{nope"}, "--input: not valid JSON"),
        ({"file": Path("/nonexistent/job.json")}, "--file /nonexistent/job.json"),
    ],
)
def test_bodies_that_cannot_be_built_say_why(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        build_job_body(**kwargs)  # type: ignore[arg-type]


def test_a_tasks_file_of_non_objects_is_refused(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text("[1, 2]")
    with pytest.raises(SpecError, match="list of JSON objects"):
        build_job_body(provider="p", model="m", tasks_file=tasks)


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


def test_a_yaml_pipeline_file_is_the_same_body_as_its_json() -> None:
    # GIVEN the shipped video pipeline in YAML
    body = build_job_body(file=EXAMPLES / "video.yaml")
    # THEN it is a pipeline body: no provider or model of its own, its steps in order, the document's
    # paragraphs kept (a YAML block keeps the blank lines that separate scenes)
    assert "provider" not in body
    assert [s["name"] for s in body["steps"]] == [
        "script",
        "approve",
        "speech",
        "avatar",
        "background",
        "render",
    ]
    assert body["steps"][0]["input"] == {"prompt": "${input.document}", "format": "script"}
    assert body["input"]["document"].count("\n\n") == 4
    # AND a JSON pipeline needs no --provider or --model either
    stages = build_job_body(file=EXAMPLES / "stages.json", collection="c1")
    assert [s["count"] for s in stages["steps"]] == [50, 50, 50]
    assert stages["collectionId"] == "c1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("steps: [\n", "not valid YAML"),
        ("- one\n- two\n", "expected a mapping"),
        ("input: {day: 2026-01-01}\nsteps: []\n", "quote such values"),
    ],
)
def test_yaml_files_that_cannot_be_a_job_body_say_why(tmp_path: Path, content: str, message: str) -> None:
    job = tmp_path / "pipeline.yml"
    job.write_text(content)
    with pytest.raises(SpecError, match=message):
        build_job_body(file=job)
