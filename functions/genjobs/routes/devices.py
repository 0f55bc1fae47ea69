"""/devices: the phones that get a push when a job ends."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from genjobs.deps import deps
from genjobs.logic import devices
from genjobs.models.api import DeviceView, RegisterDeviceRequest
from genjobs.routes.dependencies import Caller
from genjobs.routes.params import responses

router = Router()  # type: ignore[no-untyped-call]


@router.post(
    "/devices",
    summary="Register a device for completion pushes",
    responses=responses(201, DeviceView, "The device (the same one for the same token).", 400, 413, 415),
)
def register_device(request: RegisterDeviceRequest, user: Caller) -> Response[DeviceView]:
    view = devices.register(deps(), user, request)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=view)


@router.delete(
    "/devices/<deviceId>", summary="Forget a device", responses=responses(204, None, "Forgotten.", 404)
)
def delete_device(deviceId: Annotated[str, Path(min_length=1, max_length=64)], user: Caller) -> Response[str]:  # noqa: N803
    devices.unregister(deps(), user, deviceId)
    return Response(status_code=204, body="")
