"""Devices that receive a push when a job ends (SNS mobile platform endpoints)."""

from __future__ import annotations

import hashlib

from genjobs.logic.errors import Conflict, InvalidRequest, NotFound
from genjobs.logic.ports import Collaborators
from genjobs.models.api import DeviceView, Platform, RegisterDeviceRequest
from genjobs.models.domain import Device, utcnow

HAND_OVER_ATTEMPTS = 3


def register(deps: Collaborators, user_id: str, request: RegisterDeviceRequest) -> DeviceView:
    """Idempotent per (user, token): registering the same token again returns the same device.
    A token another user registered moves to this user (see DeviceRepository.hand_over)."""
    settings = deps.settings
    application = (
        settings.fcm_platform_application_arn
        if request.platform == Platform.FCM
        else settings.apns_platform_application_arn
    )
    if not application:
        raise InvalidRequest.field("platform", f"{request.platform.value} pushes are not configured")
    device_id = hashlib.sha256(f"{user_id}:{request.platform.value}:{request.token}".encode()).hexdigest()[
        :32
    ]
    existing = deps.devices.get(user_id, device_id)
    if existing is not None:
        return DeviceView(
            deviceId=existing.device_id, platform=Platform(existing.platform), createdAt=existing.created_at
        )
    endpoint = deps.notifications.claim_endpoint(application, request.token, user_id)
    device = Device(
        userId=user_id,
        deviceId=device_id,
        platform=request.platform.value,
        endpointArn=endpoint,
        createdAt=utcnow(),
    )
    # A phone that changed hands: its endpoint moves to this user and the previous holder's device
    # ends with it, so that user's pushes no longer reach the phone. Optimistic: a concurrent
    # registration of the same token makes the transaction fail, and it is tried again.
    for _ in range(HAND_OVER_ATTEMPTS):
        if deps.devices.hand_over(device, deps.devices.endpoint_owner(endpoint)):
            return DeviceView(deviceId=device_id, platform=request.platform, createdAt=device.created_at)
    raise Conflict("the device is being registered by another request; try again")


def unregister(deps: Collaborators, user_id: str, device_id: str) -> None:
    device = deps.devices.get(user_id, device_id)
    if device is None:
        raise NotFound(f"no device '{device_id}'")
    deps.notifications.delete_endpoint(device.endpoint_arn)
    deps.devices.forget(device)
