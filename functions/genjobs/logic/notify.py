"""Completion pushes: one per job and device, with a deep link and the job's counts."""

from __future__ import annotations

from typing import Any

from genjobs.dal.notifications import EndpointGone
from genjobs.deps import Deps
from genjobs.models.domain import TimelineEvent, utcnow

TITLES = {
    "COMPLETED": "Your generation is ready",
    "FAILED": "Your generation failed",
    "CANCELLED": "Your generation was cancelled",
}


def push_message(event: dict[str, Any]) -> dict[str, str]:
    import json

    counts = event.get("counts", {})
    title = TITLES.get(event["status"], "Your generation ended")
    body = f"{counts.get('completed', 0)} done, {counts.get('failed', 0)} failed, {counts.get('cancelled', 0)} cancelled"
    data = {"jobId": event["jobId"], "status": event["status"], "link": f"genjobs://jobs/{event['jobId']}"}
    fcm = {"notification": {"title": title, "body": body}, "data": data}
    apns = {"aps": {"alert": {"title": title, "body": body}}, **data}
    return {"default": f"{title}: {body}", "GCM": json.dumps(fcm), "APNS": json.dumps(apns)}


def send_job_push(deps: Deps, event: dict[str, Any]) -> int:
    """Returns how many devices were pushed; stale endpoints are pruned."""
    sent = 0
    message = push_message(event)
    for device in deps.table.list_devices(event["userId"]):
        if not deps.table.claim_push(event["jobId"], device.device_id):
            continue
        try:
            deps.checkpoints.reach("notify.before_push", event["userId"], event["jobId"])
            deps.notifications.push(device.endpoint_arn, message)
        except EndpointGone:
            deps.table.forget_device(device)
            try:
                deps.notifications.delete_endpoint(device.endpoint_arn)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
            continue
        except Exception:
            # Not sent (SNS throttled, the invocation crashed): give the claim back so the
            # redelivered message pushes, instead of this job never being pushed to this device.
            deps.table.release_push(event["jobId"], device.device_id)
            raise
        sent += 1
        deps.table.add_event(
            TimelineEvent(
                jobId=event["jobId"], at=utcnow(), kind="job.push_sent", detail={"deviceId": device.device_id}
            )
        )
    return sent
