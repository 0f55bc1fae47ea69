"""The body size limit applies to the body's bytes, also when API Gateway hands them base64-encoded."""

from __future__ import annotations

import base64
import json

from genjobs.deps import Deps
from genjobs.handlers import api
from tests.integration.test_idempotency_problems import Context, create_event


def test_a_base64_body_under_the_limit_is_not_refused_for_its_encoded_length(deps: Deps) -> None:
    # GIVEN a job body of 780 KB, whose base64 encoding (1.04 MB) is over the 1 MB limit
    deps.credits.grant("user-1", 10, "g1", None)
    body = {"provider": "simulator", "model": "sim-image", "tasks": [{"p": "x" * 260_000} for _ in range(3)]}
    event = create_event(body, "k-base64")
    raw = event["body"].encode()
    assert len(raw) <= deps.settings.max_body_bytes < len(base64.b64encode(raw))
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    # WHEN it is posted base64-encoded
    answer = api.handler(event, Context())
    # THEN the job is created, as the same body in text is
    assert answer["statusCode"] == 202, answer
    assert json.loads(answer["body"])["plan"]["taskCount"] == 3
