"""The Lambda handlers of the alternative designs: the few lines a team writes for each, no more.

Every design does genjobs' work per image: submit to the provider (the simulator's Replicate-like
API), learn that the prediction ended (by polling or by webhook), copy the output into S3, record
the result in DynamoDB. What a handler needs it gets in its event (the state machine's input or the
webhook URL's query); clients are made once per execution environment, as a warm Lambda keeps them.
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import urlencode

import boto3
import requests

TABLE = "designs-results"  # hash key "job" (S), range key "image" (N)
BUCKET = "designs-outputs"
TERMINAL = {"succeeded", "failed", "canceled"}


@functools.cache
def _client(service: str) -> Any:
    return boto3.client(service)  # type: ignore[call-overload]


@functools.cache
def _http() -> requests.Session:
    return requests.Session()


def _copy_output(prediction: dict[str, Any], job: str, image: int) -> str:
    """The prediction's first output into S3 (the provider deletes its copy); returns the key."""
    download = _http().get(prediction["outputs"][0], timeout=60)
    download.raise_for_status()
    key = f"{job}/{image}.png"
    _client("s3").put_object(Bucket=BUCKET, Key=key, Body=download.content, ContentType="image/png")
    return key


def _outcome(prediction: dict[str, Any], job: str, image: int) -> dict[str, str]:
    if prediction["status"] == "succeeded":
        return {"status": "COMPLETED", "output": _copy_output(prediction, job, image)}
    return {"status": "FAILED", "output": ""}


def submit(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Creates the image's prediction; with `webhook`, the provider calls it back with `callback`'s
    query (the callback design's task token, or the floor's job and image)."""
    body: dict[str, Any] = {
        "model": event["model"],
        "input": {"prompt": "bench", "sim": {"latency": event["latency"], "queueSeconds": 0}},
    }
    if event.get("webhook"):
        query = event.get("callback") or {"job": event["job"], "image": event["image"]}
        body["webhook"] = f"{event['webhook']}?{urlencode(query)}"
    created = _http().post(
        f"{event['simulator']}/v1/predictions",
        json=body,
        headers={"Idempotency-Key": f"{event['job']}-{event['image']}"},
        timeout=30,
    )
    created.raise_for_status()
    return {"prediction": created.json()["id"]}


def poll(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One status check; when the prediction ended, its output is copied before answering done."""
    answer = _http().get(f"{event['simulator']}/v1/predictions/{event['prediction']}", timeout=30)
    answer.raise_for_status()
    prediction = answer.json()
    if prediction["status"] not in TERMINAL:
        return {"done": False, "status": "", "output": ""}
    return {"done": True, **_outcome(prediction, event["job"], int(event["image"]))}


def _webhook(event: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]] | None:
    """The webhook's query and prediction, None for a delivery that is not the final one."""
    prediction = json.loads(event.get("body") or "{}")
    if prediction.get("status") not in TERMINAL:
        return None
    return dict(event.get("queryStringParameters") or {}), prediction


def callback_webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The textbook callback: copy the output, then answer the task token the webhook URL carries."""
    found = _webhook(event)
    if found is not None:
        query, prediction = found
        outcome = _outcome(prediction, query["job"], int(query["image"]))
        _client("stepfunctions").send_task_success(taskToken=query["token"], output=json.dumps(outcome))
    return {"statusCode": 200}


def floor_webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The floor: copy the output and record the result; nothing waits on it."""
    found = _webhook(event)
    if found is not None:
        query, prediction = found
        outcome = _outcome(prediction, query["job"], int(query["image"]))
        _client("dynamodb").put_item(
            TableName=TABLE,
            Item={
                "job": {"S": query["job"]},
                "image": {"N": query["image"]},
                "status": {"S": outcome["status"]},
                "output": {"S": outcome["output"]},
            },
        )
    return {"statusCode": 200}
