"""Standard Webhooks signatures: ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``.

Secrets follow the ``whsec_<base64>`` convention (the key is the decoded bytes) or are used
raw (their UTF-8 bytes). Several secrets give several space-separated signatures, so a
receiver can rotate: add the new secret, switch, then drop the old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def secret_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"a {SECRET_PREFIX} secret must be base64 after the prefix") from exc
    if not secret:
        raise ValueError("empty webhook secret")
    return secret.encode()


def signature_header(keys: Sequence[bytes], *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )
