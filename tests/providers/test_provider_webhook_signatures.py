"""Standard Webhooks verification: what is accepted, and every way a delivery is refused."""

from __future__ import annotations

import base64

import pytest

from genjobs.providers import WebhookRejected
from genjobs.providers.webhooks import sign, signed_headers, verify

SECRET = "whsec_" + base64.b64encode(b"test-secret-key-of-32-bytes!!!!!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-key-32-bytes!!!!!").decode()
BODY = b'{"id":"p1","status":"succeeded"}'
NOW = 1_700_000_000


def test_valid_delivery_is_accepted_and_returns_its_id_for_dedupe() -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, timestamp=NOW)
    verified = verify(SECRET, headers, BODY, now=NOW)
    assert verified.webhook_id == "msg_1"
    assert verified.timestamp == NOW


def test_signature_with_another_secret_is_rejected() -> None:
    headers = signed_headers(OTHER_SECRET, "msg_1", BODY, timestamp=NOW)
    with pytest.raises(WebhookRejected, match="no webhook-signature matches"):
        verify(SECRET, headers, BODY, now=NOW)


def test_tampered_body_is_rejected() -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, timestamp=NOW)
    with pytest.raises(WebhookRejected):
        verify(SECRET, headers, BODY.replace(b"succeeded", b"failed"), now=NOW)


def test_replayed_id_with_a_new_timestamp_is_rejected() -> None:
    # GIVEN a captured signature, replayed with a fresh timestamp header
    headers = signed_headers(SECRET, "msg_1", BODY, timestamp=NOW - 3600)
    headers["webhook-timestamp"] = str(NOW)
    with pytest.raises(WebhookRejected):
        verify(SECRET, headers, BODY, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_timestamp_outside_five_minutes_either_way_is_rejected(skew: int) -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, timestamp=NOW + skew)
    with pytest.raises(WebhookRejected, match="tolerance"):
        verify(SECRET, headers, BODY, now=NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamp_inside_the_tolerance_is_accepted(skew: int) -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, timestamp=NOW + skew)
    assert verify(SECRET, headers, BODY, now=NOW).webhook_id == "msg_1"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, timestamp=NOW)
    del headers[missing]
    with pytest.raises(WebhookRejected, match="missing"):
        verify(SECRET, headers, BODY, now=NOW)


def test_one_matching_signature_among_several_is_enough() -> None:
    # GIVEN a delivery signed with an old and a new secret during rotation, plus a future version
    good = sign(SECRET, "msg_1", NOW, BODY)
    stale = sign(OTHER_SECRET, "msg_1", NOW, BODY)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": f"v2,abc {stale} {good}",
    }
    assert verify(SECRET, headers, BODY, now=NOW).webhook_id == "msg_1"


def test_receiver_can_hold_several_secrets_while_rotating() -> None:
    headers = signed_headers(OTHER_SECRET, "msg_1", BODY, timestamp=NOW)
    assert verify([SECRET, OTHER_SECRET], headers, BODY, now=NOW).webhook_id == "msg_1"


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in signed_headers(SECRET, "msg_1", BODY, timestamp=NOW).items()}
    assert verify(SECRET, headers, BODY, now=NOW).webhook_id == "msg_1"


def test_non_numeric_timestamp_is_rejected() -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, timestamp=NOW)
    headers["webhook-timestamp"] = "yesterday"
    with pytest.raises(WebhookRejected):
        verify(SECRET, headers, BODY, now=NOW)


def test_standard_webhooks_reference_vector() -> None:
    # The example of the Standard Webhooks specification (msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize(
    "key",
    [b"test-secret-key-of-32-bytes!!!!!", b"a-key-of-thirty-one-bytes-long!", b"24-byte-key-is-no-padded"],
)
def test_a_secret_written_without_its_base64_padding_verifies_like_the_padded_one(key: bytes) -> None:
    # GIVEN the secret as the provider shows it and the same secret with its "=" padding stripped
    padded = "whsec_" + base64.b64encode(key).decode()
    unpadded = padded.rstrip("=")
    headers = signed_headers(padded, "msg_1", BODY, timestamp=NOW)

    # WHEN a delivery signed with it is verified against the unpadded secret
    verified = verify(unpadded, headers, BODY, now=NOW)

    # THEN it is accepted, and a forged one is still refused
    assert verified.webhook_id == "msg_1"
    with pytest.raises(WebhookRejected, match="no webhook-signature matches"):
        verify(unpadded, signed_headers(OTHER_SECRET, "msg_2", BODY, timestamp=NOW), BODY, now=NOW)
