"""Completion pushes: one per job and device, with a deep link and the job's counts."""

from __future__ import annotations

import json

from genjobs.logic.ports import Collaborators
from genjobs.models.domain import TimelineEvent, retry_tag, utcnow
from genjobs.models.messages import JobEvent
from genjobs.models.persistence import EndpointGone

TITLES = {
    "COMPLETED": "Your generation is ready",
    "FAILED": "Your generation failed",
    "CANCELLED": "Your generation was cancelled",
}


def push_message(event: JobEvent) -> dict[str, str]:
    counts = event.counts
    title = TITLES.get(event.status, "Your generation ended")
    body = f"{counts.completed} done, {counts.failed} failed, {counts.cancelled} cancelled"
    data = {"jobId": event.job_id, "status": event.status.value, "link": f"genjobs://jobs/{event.job_id}"}
    fcm = {"notification": {"title": title, "body": body}, "data": data}
    apns = {"aps": {"alert": {"title": title, "body": body}}, **data}
    return {"default": f"{title}: {body}", "GCM": json.dumps(fcm), "APNS": json.dumps(apns)}


def send_job_push(deps: Collaborators, event: JobEvent) -> int:
    """Returns how many devices were pushed; stale endpoints are pruned."""
    sent = 0
    message = push_message(event)
    # Each end of the job is pushed once: a retried job's next end is a push of its own.
    run = event.job_id if not event.retries else f"{event.job_id}#{retry_tag(event.retries)}"
    for device in deps.devices.of_user(event.user_id):
        if not deps.devices.claim_push(run, device.device_id):
            continue
        try:
            deps.checkpoints.reach("notify.before_push", event.user_id, event.job_id)
            deps.notifications.push(device.endpoint_arn, message)
        except EndpointGone:
            deps.devices.forget(device)
            try:
                deps.notifications.delete_endpoint(device.endpoint_arn)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
            continue
        except Exception:
            # Not sent (SNS throttled, the invocation crashed): give the claim back so the
            # redelivered message pushes, instead of this job never being pushed to this device.
            deps.devices.release_push(run, device.device_id)
            raise
        sent += 1
        deps.timeline.add(
            TimelineEvent(
                jobId=event.job_id, at=utcnow(), kind="job.push_sent", detail={"deviceId": device.device_id}
            )
        )
    return sent
