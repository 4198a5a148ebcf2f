"""API keys: a role, an optional site scope, and only a hash of the secret.

A key reads ``stw_<prefix>_<secret>``. The prefix is not secret: it names the key in lists,
logs and error messages. The secret is 32 random bytes, shown once when the key is made.

Why SHA-256 and not a slow hash (scrypt, argon2): slow hashes protect secrets people choose,
which can be guessed. A 256-bit random token cannot be guessed whatever the hash, so one
SHA-256 is as safe here and costs microseconds on every request instead of tens of
milliseconds. A stolen table still yields no usable key.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import CheckConstraint, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from steward.clock import Clock, as_datetime
from tickets.db import read_session, write_session
from tickets.errors import InvalidRequest, TicketError
from tickets.models import Base
from tickets.schemas import UtcTime

KEY_MARK = "stw"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key: a busy client costs no write per
request, and the field still answers "is anything still using this key?"."""


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    INTEGRATION = "integration"


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r.value) for r in Role)})", name="role"),
        # Config reload, deliveries and key management span every site.
        CheckConstraint("role != 'admin' OR site IS NULL", name="admin_all_sites"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    """Hex SHA-256 of the whole token."""
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    site: Mapped[str | None] = mapped_column(String(63))
    """The one site the key may see and change; NULL: every site."""
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ApiKeyView(BaseModel):
    """A key as listed: never its secret or hash."""

    model_config = ConfigDict(frozen=True)

    id: int
    prefix: str
    name: str
    role: Role
    site: str | None
    created_at: UtcTime
    created_by: str
    revoked_at: UtcTime | None
    last_used_at: UtcTime | None


class ApiKeyNotFound(TicketError):  # noqa: N818
    def __init__(self, key_id: int) -> None:
        super().__init__(f"no API key {key_id}")
        self.key_id = key_id


class KeyRejected(Exception):  # noqa: N818
    """The token is malformed, unknown or revoked; the message is safe to show the caller."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """``stw_<prefix>_<secret>`` → (prefix, secret); None if it does not look like a key."""
    head, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if head != KEY_MARK or not prefix or not secret:
        return None
    return prefix, secret


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(32)}"


def _view(row: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        role=Role(row.role),
        site=row.site,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class ApiKeyStore:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def create(
        self, *, name: str, role: Role, site: str | None, created_by: str
    ) -> tuple[ApiKeyView, str]:
        """The new key and its token: the only time the token exists outside the caller."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise InvalidRequest("a key needs a name of 1 to 100 characters")
        if role is Role.ADMIN and site is not None:
            raise InvalidRequest(
                "admin keys cannot be limited to a site: config reload, deliveries and key "
                "management span every site (use an operator key for one site)"
            )
        prefix, token = _new_token()
        row = ApiKey(
            prefix=prefix,
            secret_hash=hash_token(token),
            name=name,
            role=role.value,
            site=site,
            created_at=as_datetime(self._clock.now()),
            created_by=created_by[:100],
        )
        with write_session(self._sessions) as session:
            session.add(row)
            session.flush()
            return _view(row), token

    def list(self) -> builtins.list[ApiKeyView]:
        """Oldest first, revoked ones included (they say who had access until when)."""
        with read_session(self._sessions) as session:
            return [_view(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]

    def revoke(self, *, key_id: int) -> ApiKeyView:
        """Takes effect on the next request. Revoking twice keeps the first time."""
        with write_session(self._sessions) as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise ApiKeyNotFound(key_id)
            if row.revoked_at is None:
                row.revoked_at = as_datetime(self._clock.now())
            return _view(row)

    def any_exist(self) -> bool:
        """Revoked keys count: revoking the last key must not open the API."""
        with read_session(self._sessions) as session:
            return session.scalar(select(func.count()).select_from(ApiKey)) != 0

    def authenticate(self, token: str) -> ApiKeyView:
        """The key the token belongs to; ``KeyRejected`` if none does or it is revoked."""
        parts = split_token(token)
        if parts is None:
            raise KeyRejected("API key not recognised: keys look like stw_<prefix>_<secret>")
        prefix = parts[0]
        with read_session(self._sessions) as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            if row is None or not hmac.compare_digest(row.secret_hash, hash_token(token)):
                raise KeyRejected(f"API key stw_{prefix}_… not recognised")
            view = _view(row)
        if view.revoked_at is not None:
            raise KeyRejected(f"API key stw_{prefix}_… ({view.name}) has been revoked")
        self._used(view)
        return view

    def current(self, prefix: str) -> ApiKeyView | None:
        """The key ``stw_<prefix>`` as stored now, revoked or not (``None``: no such key),
        for a caller ``authenticate`` already let in that is still at it (a stream): one
        look-up by prefix, no hashing. A key not revoked counts as used, as in ``authenticate``.
        """
        with read_session(self._sessions) as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
            view = None if row is None else _view(row)
        if view is not None and view.revoked_at is None:
            self._used(view)
        return view

    def _used(self, view: ApiKeyView) -> None:
        now = as_datetime(self._clock.now())
        if view.last_used_at is None or now - view.last_used_at >= LAST_USED_RESOLUTION:
            self._touch(view.id, now)

    def _touch(self, key_id: int, now: datetime) -> None:
        with write_session(self._sessions) as session:
            row = session.get(ApiKey, key_id)
            if row is not None:
                row.last_used_at = now
