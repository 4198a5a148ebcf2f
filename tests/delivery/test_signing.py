"""Signatures, checked by an independent implementation of the Standard Webhooks scheme."""

from __future__ import annotations

import pytest

from delivery.signing import secret_key, signature_header
from tests.delivery.standard_webhooks import VerificationFailed, verify

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def headers(secrets: list[str], body: bytes, *, ts: int = 1614265330) -> dict[str, str]:
    keys = [secret_key(s) for s in secrets]
    return {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": str(ts),
        "webhook-signature": signature_header(
            keys, message_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=ts, body=body
        ),
    }


def test_the_specifications_example() -> None:
    signed = headers([SPEC_SECRET], b'{"test": 2432232314}')
    assert signed["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    verify(SPEC_SECRET, signed, b'{"test": 2432232314}', now=1614265330)


def test_raw_secrets_and_rotation_with_several_signatures() -> None:
    body = '{"data": "ünïcode"}'.encode()
    signed = headers(["old-raw-secret", SPEC_SECRET], body)
    assert len(signed["webhook-signature"].split(" ")) == 2
    verify("old-raw-secret", signed, body, now=1614265330)  # receivers on either secret
    verify(SPEC_SECRET, signed, body, now=1614265330)
    with pytest.raises(VerificationFailed):
        verify("whsec_" + "QUJD" * 8, signed, body, now=1614265330)


def test_tampering_and_stale_timestamps_fail() -> None:
    body = b'{"a": 1}'
    signed = headers([SPEC_SECRET], body)
    with pytest.raises(VerificationFailed):
        verify(SPEC_SECRET, signed, b'{"a": 2}', now=1614265330)
    with pytest.raises(VerificationFailed):
        verify(SPEC_SECRET, {**signed, "webhook-id": "msg_other"}, body, now=1614265330)
    with pytest.raises(VerificationFailed):
        verify(SPEC_SECRET, signed, body, now=1614265330 + 301)


@pytest.mark.parametrize("bad", ["", "whsec_not base64!"])
def test_unusable_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(bad)
