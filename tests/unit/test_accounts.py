"""Credits and devices as their owner sees them: grants once per id or key, balances per user, and
devices per user and platform."""

from __future__ import annotations

import pytest

from genjobs.logic import credits, devices
from genjobs.logic.errors import InvalidRequest, NotFound
from genjobs.models.api import GrantCreditsRequest, GrantView, Platform, RegisterDeviceRequest
from tests.unit.fakes import FakeDeps, fake_deps
from tests.unit.scenario import USER

PHONE = "fcm-token-of-the-phone"


def grant(
    deps: FakeDeps, amount: int, *, grant_id: str | None = None, key: str | None = None, user: str = USER
) -> GrantView:
    request = GrantCreditsRequest(userId=user, amount=amount, grantId=grant_id)
    return credits.grant(deps, request, key)


def test_a_grant_without_an_id_or_key_is_refused_naming_grant_id(deps: FakeDeps) -> None:
    # WHEN an operator grants without a grantId nor an Idempotency-Key
    with pytest.raises(InvalidRequest) as refused:
        grant(deps, 5)
    # THEN it is refused, naming grantId, and nothing is granted
    assert refused.value.errors[0]["field"] == "grantId"
    assert credits.balance(deps, USER).granted == 0


def test_the_idempotency_key_stands_for_a_missing_grant_id(deps: FakeDeps) -> None:
    # WHEN the same grant is sent twice with one Idempotency-Key and no grantId
    first = grant(deps, 5, key="k-1")
    again = grant(deps, 5, key="k-1")
    # THEN it is applied once, under the key
    assert (first.grant_id, first.applied, again.applied) == ("k-1", True, False)
    assert again.balance.available == 5


def test_a_grant_id_wins_over_the_idempotency_key(deps: FakeDeps) -> None:
    assert grant(deps, 5, grant_id="g-1", key="k-1").grant_id == "g-1"
    assert grant(deps, 5, grant_id="g-1", key="k-2").applied is False


def test_a_grant_answers_the_new_balance_of_the_user_granted(deps: FakeDeps) -> None:
    answer = grant(deps, 7, grant_id="g", user="bob")
    assert (answer.user_id, answer.balance.available, answer.balance.granted) == ("bob", 7, 7)
    assert credits.balance(deps, USER).available == 0


def test_the_same_grant_id_for_two_users_credits_each(deps: FakeDeps) -> None:
    grant(deps, 3, grant_id="welcome", user="alice")
    assert grant(deps, 3, grant_id="welcome", user="bob").applied is True


def register(deps: FakeDeps, user: str = USER, token: str = PHONE, platform: Platform = Platform.FCM) -> str:
    return devices.register(deps, user, RegisterDeviceRequest(platform=platform, token=token)).device_id


def test_two_phones_of_one_user_are_two_devices(deps: FakeDeps) -> None:
    first, second = register(deps), register(deps, token="fcm-token-of-the-tablet")
    assert first != second
    assert {d.device_id for d in deps.devices.of_user(USER)} == {first, second}


def test_an_apns_device_registers_when_apns_is_configured() -> None:
    # GIVEN a deployment with an APNS platform application
    deps = fake_deps(APNS_PLATFORM_APPLICATION_ARN="arn:aws:sns:us-east-1:1:app/APNS/genjobs")
    # WHEN an iPhone registers
    device_id = register(deps, platform=Platform.APNS, token="apns-token-1")
    # THEN the user has an APNS device
    (device,) = deps.devices.of_user(USER)
    assert (device.device_id, device.platform) == (device_id, "APNS")


def test_an_apns_device_is_refused_where_only_fcm_is_configured(deps: FakeDeps) -> None:
    with pytest.raises(InvalidRequest) as refused:
        register(deps, platform=Platform.APNS, token="apns-token-1")
    assert refused.value.errors[0]["field"] == "platform"
    assert deps.notifications.endpoints == {}


def test_unregistering_a_device_that_does_not_exist_is_not_found(deps: FakeDeps) -> None:
    with pytest.raises(NotFound):
        devices.unregister(deps, USER, "0" * 32)
    assert deps.notifications.deleted == []
