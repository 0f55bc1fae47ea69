"""Output custody of inline outputs: text and data: URIs become stored files like downloaded ones."""

from __future__ import annotations

import base64

import boto3

from genjobs.deps import Deps
from genjobs.logic.outputs import keep_outputs
from genjobs.models.domain import Job
from genjobs.providers.replicate import outputs_of

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def stored(key: str) -> tuple[str, bytes]:
    found = boto3.client("s3").get_object(Bucket="outputs", Key=key)
    return found["ContentType"], found["Body"].read()


def test_text_and_inline_outputs_are_stored_in_order_with_a_type_and_an_extension(deps: Deps) -> None:
    # GIVEN a prediction's outputs: a caption, then an inline image, then structured output
    job = Job.model_construct(user_id="u1", job_id="j1")
    outputs = outputs_of(
        {"caption": "un chat roué", "image": "data:image/png;base64," + base64.b64encode(PNG).decode()}
    ) + outputs_of({"label": "cat", "score": 0.9})

    # WHEN custody keeps them
    kept = keep_outputs(deps, job, 3, outputs)

    # THEN each is a stored file of its own type and extension, in the model's order
    assert [(o.key, o.content_type, o.size) for o in kept] == [
        ("outputs/u1/j1/000003/0.txt", "text/plain", len("un chat roué".encode())),
        ("outputs/u1/j1/000003/1.png", "image/png", len(PNG)),
        ("outputs/u1/j1/000003/2.json", "application/json", len(b'{"label": "cat", "score": 0.9}')),
    ]
    assert stored(kept[0].key) == ("text/plain;charset=utf-8", "un chat roué".encode())
    assert stored(kept[1].key)[1] == PNG
    assert stored(kept[2].key)[1] == b'{"label": "cat", "score": 0.9}'
    # AND the content itself is not copied into the task as its "source"
    assert all(o.source_url is None for o in kept)
