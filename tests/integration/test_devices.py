"""Device registration against moto's SNS and DynamoDB: a token moves between users, replays and
races are harmless."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
from moto.sns.models import sns_backends

from genjobs.deps import Deps
from genjobs.logic import devices
from genjobs.logic.errors import NotFound
from genjobs.models.api import RegisterDeviceRequest
from tests.support.devices import assert_holds_the_phone_alone

TOKEN = "fcm-token-of-a-phone-that-changes-hands"


@pytest.fixture
def fcm(deps: Deps) -> Deps:
    arn = boto3.client("sns").create_platform_application(
        Name="fcm", Platform="GCM", Attributes={"PlatformCredential": "fake-key"}
    )["PlatformApplicationArn"]
    return Deps(settings=deps.settings.model_copy(update={"fcm_platform_application_arn": arn}))


def register(deps: Deps, user: str) -> str:
    request = RegisterDeviceRequest.model_validate({"platform": "FCM", "token": TOKEN})
    return devices.register(deps, user, request).device_id


def endpoints() -> list[Any]:
    return list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].platform_endpoints.values())


def test_the_token_moves_to_the_new_user_and_the_old_device_ends(fcm: Deps) -> None:
    # GIVEN alice's phone
    alice_device = register(fcm, "alice")

    # WHEN bob registers the same token, twice
    bob_device = register(fcm, "bob")
    assert register(fcm, "bob") == bob_device

    # THEN one endpoint, now bob's, enabled; alice has no device, bob has one
    (endpoint,) = endpoints()
    assert endpoint.attributes["CustomUserData"] == "bob"
    assert endpoint.attributes["Enabled"] is True
    assert fcm.devices.of_user("alice") == []
    assert [d.device_id for d in fcm.devices.of_user("bob")] == [bob_device]
    assert fcm.devices.endpoint_owner(endpoint.arn).user_id == "bob"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        devices.unregister(fcm, "alice", alice_device)


def test_a_registration_that_loses_a_race_reads_the_new_holder_and_wins_after_it(
    fcm: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN alice's phone, and bob's registration that reads the holder just before carol's lands
    register(fcm, "alice")
    real_owner = fcm.devices.endpoint_owner
    calls: list[str] = []

    def owner_then_carol_registers(endpoint_arn: str) -> Any:
        found = real_owner(endpoint_arn)
        if not calls:
            calls.append("carol")
            monkeypatch.setattr(fcm.devices, "endpoint_owner", real_owner)
            register(fcm, "carol")
        return found

    monkeypatch.setattr(fcm.devices, "endpoint_owner", owner_then_carol_registers)

    # WHEN bob's registration completes
    register(fcm, "bob")

    # THEN bob holds the phone alone: neither alice nor carol kept a device for it
    assert_holds_the_phone_alone(fcm.devices, "bob", "alice", "carol")


def test_forgetting_the_device_frees_the_token_for_anyone(fcm: Deps) -> None:
    # GIVEN bob's phone, taken over from alice
    register(fcm, "alice")
    bob_device = register(fcm, "bob")
    arn = fcm.devices.of_user("bob")[0].endpoint_arn

    # WHEN bob forgets it
    devices.unregister(fcm, "bob", bob_device)

    # THEN the endpoint and its holder are gone, and alice can register the phone again
    assert endpoints() == []
    assert fcm.devices.endpoint_owner(arn) is None
    register(fcm, "alice")
    assert len(fcm.devices.of_user("alice")) == 1
