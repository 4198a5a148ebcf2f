"""Certificates for TLS tests, made with the ``openssl`` command (EC P-256: quick to make):
a CA, a server certificate for 127.0.0.1 and localhost, a client certificate, and a second CA
that has not signed the broker's certificate."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.services import require_service

EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Pair
    server: Pair
    """Signed by ``ca`` for IP 127.0.0.1 and DNS localhost."""
    misnamed_server: Pair
    """Signed by ``ca`` for broker.invalid only: verifies, but names another host."""
    client: Pair
    """Signed by ``ca``, for client authentication."""
    other_ca: Pair
    """Another CA: a client that trusts only it must refuse the broker."""


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _ca(folder: Path, name: str) -> Pair:
    pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
    _openssl(
        "req", "-x509", *EC_KEY, "-days", "1", "-subj", f"/CN=Steward test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(pair.key), "-out", str(pair.cert),
    )  # fmt: skip
    return pair


def _leaf(folder: Path, name: str, ca: Pair, *, names: str, usage: str) -> Pair:
    pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
    csr = folder / f"{name}.csr"
    extensions = folder / f"{name}.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage={usage}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n" + (f"subjectAltName={names}\n" if names else "")
    )
    _openssl("req", "-new", *EC_KEY, "-subj", f"/CN={name}", "-keyout", str(pair.key),
             "-out", str(csr))  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-days", "1", "-extfile", str(extensions), "-out", str(pair.cert),
    )  # fmt: skip
    return pair


def make_pki(folder: Path) -> Pki:
    if shutil.which("openssl") is None:
        require_service("openssl", "needed to make the test certificates")
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca(folder, "ca")
    return Pki(
        ca=ca,
        server=_leaf(folder, "server", ca, names="IP:127.0.0.1,DNS:localhost", usage="serverAuth"),
        misnamed_server=_leaf(
            folder, "misnamed", ca, names="DNS:broker.invalid", usage="serverAuth"
        ),
        client=_leaf(folder, "steward-client", ca, names="", usage="clientAuth"),
        other_ca=_ca(folder, "other-ca"),
    )


def encrypted_key(key: Path, password: str, out: Path) -> Path:
    """``key`` encrypted (PKCS#8, AES-256) with ``password``."""
    _openssl("pkey", "-in", str(key), "-aes256", "-passout", f"pass:{password}", "-out", str(out))
    return out
