"""What a device registration leaves, said once for the unit tier (fakes) and the integration tier
(moto)."""

from __future__ import annotations

from genjobs.logic.ports import Devices


def assert_holds_the_phone_alone(devices: Devices, holder: str, *others: str) -> None:
    """`holder` has the phone's one device; none of `others` kept a device for it."""
    for user in others:
        assert devices.of_user(user) == []
    assert len(devices.of_user(holder)) == 1
