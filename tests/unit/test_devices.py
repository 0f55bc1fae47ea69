"""Devices and completion pushes: one push per job and device; a phone that changes hands moves
to its new user; stale endpoints are pruned."""

from __future__ import annotations

import pytest

from genjobs.logic import devices
from genjobs.logic.errors import Conflict, InvalidRequest, NotFound
from genjobs.logic.notify import push_message, send_job_push
from genjobs.models.api import Platform, RegisterDeviceRequest
from genjobs.models.domain import JobStatus
from genjobs.models.messages import JobEvent
from tests.support.devices import assert_holds_the_phone_alone
from tests.unit.fakes import FakeDeps

PHONE = "fcm-token-of-the-phone"


def register(deps: FakeDeps, user: str, token: str = PHONE) -> str:
    return devices.register(deps, user, RegisterDeviceRequest(platform=Platform.FCM, token=token)).device_id


def test_a_registered_device_receives_the_users_pushes(deps: FakeDeps) -> None:
    device_id = register(deps, "alice")
    (device,) = deps.devices.of_user("alice")
    assert device.device_id == device_id
    assert deps.devices.endpoint_owner(device.endpoint_arn) == device


def test_registering_the_same_token_again_returns_the_same_device(deps: FakeDeps) -> None:
    assert register(deps, "alice") == register(deps, "alice")
    assert len(deps.devices.of_user("alice")) == 1


def test_a_phone_that_changes_hands_moves_to_its_new_user(deps: FakeDeps) -> None:
    # GIVEN alice's phone
    register(deps, "alice")
    # WHEN bob registers the same token
    bob_device = register(deps, "bob")
    # THEN bob holds it alone: alice no longer has a device for it
    assert deps.devices.of_user("alice") == []
    assert [d.device_id for d in deps.devices.of_user("bob")] == [bob_device]
    (arn,) = deps.notifications.holders
    assert deps.notifications.holders[arn] == "bob"
    assert deps.devices.endpoint_owner(arn).user_id == "bob"  # type: ignore[union-attr]


def test_a_registration_that_loses_a_race_tries_again_against_the_new_holder(deps: FakeDeps) -> None:
    # GIVEN alice's phone, and carol registering it just after bob read its holder
    register(deps, "alice")
    real_owner = deps.devices.endpoint_owner
    raced: list[str] = []

    def owner_then_carol(arn: str):  # type: ignore[no-untyped-def]
        found = real_owner(arn)
        if not raced:
            raced.append("carol")
            register(deps, "carol")
        return found

    deps.devices.endpoint_owner = owner_then_carol  # type: ignore[method-assign]
    # WHEN bob's registration completes
    register(deps, "bob")
    # THEN bob holds the phone alone
    assert_holds_the_phone_alone(deps.devices, "bob", "alice", "carol")


def test_a_registration_that_keeps_losing_is_a_conflict(deps: FakeDeps) -> None:
    register(deps, "alice")
    deps.devices.hand_over = lambda device, previous: False  # type: ignore[method-assign]
    with pytest.raises(Conflict):
        register(deps, "bob")


def test_a_platform_without_a_push_application_is_refused() -> None:
    from tests.unit.fakes import fake_deps

    deps = fake_deps()
    with pytest.raises(InvalidRequest):
        devices.register(deps, "alice", RegisterDeviceRequest(platform=Platform.APNS, token=PHONE))


def test_unregistering_forgets_the_device_and_its_endpoint(deps: FakeDeps) -> None:
    device_id = register(deps, "alice")
    (device,) = deps.devices.of_user("alice")
    devices.unregister(deps, "alice", device_id)
    assert deps.devices.of_user("alice") == []
    assert deps.devices.endpoint_owner(device.endpoint_arn) is None
    assert deps.notifications.deleted == [device.endpoint_arn]


def test_unregistering_another_users_device_is_not_found(deps: FakeDeps) -> None:
    device_id = register(deps, "alice")
    with pytest.raises(NotFound):
        devices.unregister(deps, "bob", device_id)
    assert len(deps.devices.of_user("alice")) == 1


def test_forgetting_a_device_that_lost_its_phone_leaves_the_new_holder_alone(deps: FakeDeps) -> None:
    register(deps, "alice")
    (alices,) = deps.devices.of_user("alice")
    register(deps, "bob")
    deps.devices.forget(alices)
    assert deps.devices.endpoint_owner(alices.endpoint_arn).user_id == "bob"  # type: ignore[union-attr]


# ---------------------------------------------------------------- pushes
EVENT = JobEvent.model_validate(
    {
        "type": "job.completed",
        "jobId": "job-1",
        "userId": "alice",
        "status": "COMPLETED",
        "counts": {"completed": 7, "failed": 1, "cancelled": 0},
        "credits": {"unitPrice": 1, "reserved": 8, "charged": 7, "refunded": 1},
    }
)


def test_each_device_of_the_user_gets_one_push_per_job(deps: FakeDeps) -> None:
    register(deps, "alice", "phone-token-1")
    register(deps, "alice", "tablet-token-2")
    assert send_job_push(deps, EVENT) == 2
    assert send_job_push(deps, EVENT) == 0  # a redelivered event
    assert len(deps.notifications.pushed) == 2
    assert deps.world.kinds("job-1") == ["job.push_sent", "job.push_sent"]


def test_a_push_to_a_stale_endpoint_forgets_the_device(deps: FakeDeps) -> None:
    register(deps, "alice")
    (device,) = deps.devices.of_user("alice")
    deps.notifications.gone.add(device.endpoint_arn)
    assert send_job_push(deps, EVENT) == 0
    assert deps.devices.of_user("alice") == []
    assert deps.notifications.deleted == [device.endpoint_arn]


def test_a_push_that_failed_is_sent_by_the_redelivered_event(deps: FakeDeps) -> None:
    # GIVEN SNS failing the first push
    register(deps, "alice")
    real_push = deps.notifications.push

    def throttled(arn: str, message: dict[str, str]) -> str:
        deps.notifications.push = real_push  # type: ignore[method-assign]
        raise RuntimeError("Throttling")

    deps.notifications.push = throttled  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        send_job_push(deps, EVENT)
    # WHEN the event is delivered again
    # THEN the push goes out
    assert send_job_push(deps, EVENT) == 1


@pytest.mark.parametrize(
    ("status", "title"),
    [
        ("COMPLETED", "Your generation is ready"),
        ("FAILED", "Your generation failed"),
        ("CANCELLED", "Your generation was cancelled"),
    ],
)
def test_the_push_says_how_the_job_ended_and_links_to_it(status: str, title: str) -> None:
    message = push_message(EVENT.model_copy(update={"status": JobStatus(status)}))
    assert message["default"] == f"{title}: 7 done, 1 failed, 0 cancelled"
    assert '"link": "genjobs://jobs/job-1"' in message["GCM"]
