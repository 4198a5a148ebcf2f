"""One ``Settings`` object, built once at start-up from the environment (contract §7)."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/steward.db"
URL_FIELDS = frozenset({"mqtt_url", "database_url", "influx_url", "webhook_url"})
"""Settings whose value may carry a password: shown through ``redact_url``."""
SECRET_QUERY_WORDS = ("password", "token", "secret", "key")
MQTT_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}
"""``STEWARD_MQTT_URL``'s schemes, each with whether it means TLS."""
MQTT_PORT, MQTTS_PORT = 1883, 8883


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STEWARD_", extra="ignore", frozen=True)

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    # TLS of Steward's own broker link: used with an mqtts:// URL (docs/operations.md).
    mqtt_tls_ca_file: Path | None = None
    """CA certificate(s), PEM, the broker's certificate is verified against; unset: the
    system trust store."""
    mqtt_tls_cert_file: Path | None = None
    """Client certificate, PEM (mutual TLS); its key in it or in ``mqtt_tls_key_file``."""
    mqtt_tls_key_file: Path | None = None
    mqtt_tls_key_password: SecretStr | None = None
    mqtt_tls_check_hostname: bool = True
    """Whether the broker's certificate must name the URL's host (it is verified anyway)."""
    database_url: str = DEFAULT_DATABASE_URL
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    site_config: Path | None = None

    influx_url: str | None = None
    influx_token: SecretStr | None = None
    influx_org: str | None = None
    influx_bucket: str | None = None
    # Telemetry storage (telemetry/): the embedded store unless STEWARD_INFLUX_URL is set.
    telemetry_path: Path | None = None
    """Embedded store file; default telemetry.db beside an SQLite database, else ./var."""
    telemetry_retention_days: float = Field(default=30, gt=0)
    telemetry_spool_dir: Path | None = None
    """Where InfluxDB batches wait out an outage; default telemetry-spool/ beside the store."""
    telemetry_spool_max_mb: int = Field(default=1024, ge=1)

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    admin_api_key: SecretStr | None = None
    integrations_config: Path | None = None
    """More webhook endpoints, with filters and templates (docs/integrations.md)."""

    # Beyond the contract's minimum: tuning knobs with safe defaults.
    mqtt_client_id: str = "steward-gateway"
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    tick_interval_s: float = Field(default=1.0, gt=0, le=60)
    max_payload_bytes: int = Field(default=65536, ge=256)
    dead_letter_size: int = Field(default=1000, ge=1)
    strict_devices: bool = False
    device_rate_per_s: float = Field(default=20.0, gt=0)
    """Sustained messages per second one device may send; the excess is dropped and counted."""
    device_burst: int = Field(default=100, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=120)
    mqtt_ticket_events: bool = True
    """Publish ticket events to ``estate/{site}/tickets`` on the service's broker."""
    delivery_poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    delivery_retry_hours: float = Field(default=24.0, ge=1)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """``repr`` and ``str`` (what a log or a traceback shows) without URL passwords;
        ``SecretStr`` fields already print as ``**********``."""
        for name, value in super().__repr_args__():
            shown = redact_url(value) if name in URL_FIELDS and isinstance(value, str) else value
            yield name, shown

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in MQTT_SCHEMES or not parts.hostname:
            raise ValueError("must look like mqtt://[user:pass@]host:port or mqtts://...")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be sqlite:///path or postgresql://user@host/db")
        return value


def mqtt_address(url: str) -> tuple[str, int, str | None, str | None]:
    """``mqtt://user:pass@host:port`` → (host, port, user, password); the port defaults to
    1883, or 8883 for ``mqtts://``."""
    parts = urlsplit(url)
    default_port = MQTTS_PORT if mqtt_uses_tls(url) else MQTT_PORT
    return parts.hostname or "127.0.0.1", parts.port or default_port, parts.username, parts.password


def mqtt_uses_tls(url: str) -> bool:
    return MQTT_SCHEMES.get(urlsplit(url).scheme, False)


class MqttTlsError(ValueError):
    """The broker link's TLS settings cannot work: one line naming the setting."""


@dataclass(frozen=True)
class MqttTls:
    """How Steward's MQTT clients verify the broker, and prove who they are to it."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: SecretStr | None = None
    check_hostname: bool = True

    @property
    def mutual(self) -> bool:
        return self.cert_file is not None

    def describe(self) -> str:
        """For a log line (no paths, no secrets): ``TLS (private CA, client certificate)``."""
        parts = [
            "private CA" if self.ca_file is not None else "system CAs",
            *(["client certificate"] if self.mutual else []),
            *([] if self.check_hostname else ["host name not checked"]),
        ]
        return f"TLS ({', '.join(parts)})"

    def context(self) -> ssl.SSLContext:
        """The client context: TLS 1.2 or later, the broker's certificate verified against
        ``ca_file`` (else the system trust store), its host name checked unless switched off.
        ``MqttTlsError`` says which setting is wrong."""
        if self.key_file is not None and self.cert_file is None:
            raise MqttTlsError(
                "STEWARD_MQTT_TLS_KEY_FILE is set without STEWARD_MQTT_TLS_CERT_FILE"
            )
        if self.key_password is not None and self.cert_file is None:
            raise MqttTlsError(
                "STEWARD_MQTT_TLS_KEY_PASSWORD is set without STEWARD_MQTT_TLS_CERT_FILE"
            )
        if self.ca_file is not None:
            _readable("STEWARD_MQTT_TLS_CA_FILE", self.ca_file, CERTIFICATE)
        try:
            # with a CA file, that CA alone; else the system trust store
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        except ssl.SSLError as exc:
            raise MqttTlsError(
                f"STEWARD_MQTT_TLS_CA_FILE {self.ca_file}: no CA certificate in it "
                f"({_ssl_reason(exc)})"
            ) from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.check_hostname
        if self.cert_file is not None:
            self._load_client_certificate(context, self.cert_file)
        return context

    def _load_client_certificate(self, context: ssl.SSLContext, cert_file: Path) -> None:
        setting = "STEWARD_MQTT_TLS_CERT_FILE"
        cert_pem = _readable(setting, cert_file, CERTIFICATE)
        if not _parses(cert_pem):
            raise MqttTlsError(f"{setting} {cert_file}: not a valid PEM certificate")
        if self.key_file is not None:
            setting, key_path = "STEWARD_MQTT_TLS_KEY_FILE", self.key_file
            key_pem = _readable(setting, key_path, PRIVATE_KEY)
        else:  # the key in the certificate's file
            key_path = cert_file
            key_pem = _readable(
                setting, key_path, PRIVATE_KEY, "(or set STEWARD_MQTT_TLS_KEY_FILE)"
            )
        encrypted = b"ENCRYPTED" in key_pem  # PKCS#8 "ENCRYPTED PRIVATE KEY", or Proc-Type
        secret = self.key_password.get_secret_value() if self.key_password else ""
        if encrypted and not secret:
            raise MqttTlsError(
                f"{setting} {key_path}: the key is encrypted; set STEWARD_MQTT_TLS_KEY_PASSWORD"
            )
        try:
            # a callable, never None: OpenSSL would prompt for a password on the terminal
            context.load_cert_chain(cert_file, self.key_file, password=lambda: secret)
        except ssl.SSLError as exc:
            if "KEY_VALUES_MISMATCH" in str(exc):
                problem = "the key is not the certificate's"
            elif encrypted:
                problem = "cannot decrypt the key: STEWARD_MQTT_TLS_KEY_PASSWORD is wrong"
            else:
                problem = f"not a valid private key ({_ssl_reason(exc)})"
            raise MqttTlsError(f"{setting} {key_path}: {problem}") from None


def _parses(pem: bytes) -> bool:
    """Whether the first PEM certificate in ``pem`` is one OpenSSL can read."""
    found = re.search(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
    if found is None:
        return False
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=found[0].decode())
    except (ssl.SSLError, ValueError):
        return False
    return True


CERTIFICATE = ("certificate", b"-----BEGIN CERTIFICATE-----")
PRIVATE_KEY = ("private key", b"PRIVATE KEY-----")  # PKCS#8, RSA, EC, encrypted


def _readable(setting: str, path: Path, pem: tuple[str, bytes], hint: str = "") -> bytes:
    """What a file holds, if it exists, can be read and holds a ``pem`` block; else
    ``MqttTlsError``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MqttTlsError(f"{setting} {path}: no such file") from None
    except IsADirectoryError:
        raise MqttTlsError(f"{setting} {path}: is a directory, not a PEM file") from None
    except OSError as exc:
        raise MqttTlsError(f"{setting} {path}: cannot read it ({exc.strerror})") from None
    what, marker = pem
    if marker not in data:
        raise MqttTlsError(f"{setting} {path}: no PEM {what} in it {hint}".rstrip())
    return data


def _ssl_reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc.strerror or exc).splitlines()[0]


def mqtt_tls(settings: Settings) -> MqttTls | None:
    """The broker link's TLS from the settings: None for ``mqtt://``. TLS settings with a
    plain URL are a ``MqttTlsError`` (the operator meant the link to be encrypted)."""
    if not mqtt_uses_tls(settings.mqtt_url):
        given = [
            f"STEWARD_MQTT_TLS_{name.upper()}"
            for name in ("ca_file", "cert_file", "key_file", "key_password")
            if getattr(settings, f"mqtt_tls_{name}") is not None
        ]
        if given:
            raise MqttTlsError(
                f"{', '.join(given)} set but STEWARD_MQTT_URL is not mqtts://: "
                "the broker link would not be encrypted"
            )
        return None
    return MqttTls(
        ca_file=settings.mqtt_tls_ca_file,
        cert_file=settings.mqtt_tls_cert_file,
        key_file=settings.mqtt_tls_key_file,
        key_password=settings.mqtt_tls_key_password,
        check_hostname=settings.mqtt_tls_check_hostname,
    )


def redact_url(url: str) -> str:
    """A URL fit for a log: ``mqtt://user:pass@host:1883`` → ``mqtt://user:***@host:1883``,
    and ``***`` for query parameters named like a password, token, secret or key."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, _ = netloc.rpartition("@")[0].partition(":")
        netloc = f"{user}:***@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [
                (k, "***" if any(w in k.lower() for w in SECRET_QUERY_WORDS) else v)
                for k, v in pairs
            ],
            safe="*",
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))
