"""An independent Standard Webhooks verifier, written from the specification (v1.0.0,
"Verifying webhook authenticity"), not from Steward's signer.

The spec: the content to sign is ``msg_id + "." + timestamp + "." + payload``; the key is
the secret's base64 part after ``whsec_``; the ``webhook-signature`` header is a
space-delimited list of ``version,signature`` where ``v1`` is base64(HMAC-SHA256); the
receiver must check the timestamp against its clock (5 minutes' tolerance is suggested) and
compare in constant time. A secret without the prefix is used as its bytes (Steward's raw
secrets).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

TOLERANCE_S = 5 * 60


class VerificationFailed(Exception):  # noqa: N818
    pass


def key_of(secret: str) -> bytes:
    prefix = "whsec_"
    return base64.b64decode(secret[len(prefix) :]) if secret.startswith(prefix) else secret.encode()


def verify(secret: str, headers: Mapping[str, str], payload: bytes, *, now: float) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as missing:
        raise VerificationFailed(f"missing header {missing}") from None
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_S:
        raise VerificationFailed("timestamp outside tolerance")
    signed_content = msg_id + "." + timestamp + "." + payload.decode("utf-8")
    digest = hmac.new(key_of(secret), signed_content.encode("utf-8"), hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode("ascii")
    for versioned in signatures.split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return
    raise VerificationFailed("no matching signature")
