"""Who may call what: roles, permissions, and the one table that gives every ``/api/v1`` route
its permission.

Every ``/api/v1`` router carries ``authorize``: it finds the matched route in
``ROUTE_PERMISSIONS`` and refuses (403) a caller whose role lacks the permission. A route
missing from the table is refused to everyone, and the access-control test fails, so a new
route cannot ship open by accident. Site scope is applied by the routes themselves, through
``Caller`` (lists are filtered; another site's single object is a 404, as if it did not exist).

With no key at all (no ``STEWARD_ADMIN_API_KEY``, no stored key) the API is open: the caller
is an unscoped admin. Once a key exists the API never opens again, even if every key is
revoked: revoking must lock, not unlock.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import StewardDep
from steward.runtime import Steward
from tickets.api_keys import KEY_MARK, ApiKeyStore, KeyRejected, Role
from tickets.schemas import Via

log = logging.getLogger("steward.api.access")


class Permission(StrEnum):
    TICKETS_READ = "tickets:read"
    TICKETS_CREATE = "tickets:create"
    """Manual tickets (owners' complaints)."""
    TICKETS_ACKNOWLEDGE = "tickets:acknowledge"
    TICKETS_UPDATE = "tickets:update"
    """Progress notes and the first plan: words on a ticket, no change of status."""
    TICKETS_MANAGE = "tickets:manage"
    """Start, resolve, close, reopen, cancel, reassign."""
    ALERTS_READ = "alerts:read"
    STREAM_READ = "stream:read"
    DEVICES_READ = "devices:read"
    DEAD_LETTERS_READ = "dead-letters:read"
    TELEMETRY_READ = "telemetry:read"
    PATROL_READ = "patrol:read"
    REPORTS_READ = "reports:read"
    SILENCES_READ = "silences:read"
    SILENCES_WRITE = "silences:write"
    DELIVERIES_READ = "deliveries:read"
    DELIVERIES_MANAGE = "deliveries:manage"
    CONFIG_RELOAD = "config:reload"
    KEYS_MANAGE = "keys:manage"


P = Permission
ALL_SITES_ONLY = frozenset({P.DELIVERIES_READ, P.DELIVERIES_MANAGE, P.CONFIG_RELOAD, P.KEYS_MANAGE})
"""Permissions over things that belong to no one site; a site-scoped key never has them."""

_VIEW = frozenset(
    {
        P.TICKETS_READ,
        P.ALERTS_READ,
        P.STREAM_READ,
        P.DEVICES_READ,
        P.DEAD_LETTERS_READ,
        P.TELEMETRY_READ,
        P.PATROL_READ,
        P.REPORTS_READ,
        P.SILENCES_READ,
    }
)
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEW,
    Role.OPERATOR: _VIEW
    | {P.TICKETS_CREATE, P.TICKETS_ACKNOWLEDGE, P.TICKETS_UPDATE, P.TICKETS_MANAGE}
    | {P.SILENCES_WRITE},
    # A machine client (a help-desk or work-order system, a paging service): it files
    # complaints, follows its tickets, and says "seen" and "here is an update". Changing a
    # ticket's state further is a person's call, through an operator key.
    Role.INTEGRATION: frozenset(
        {P.TICKETS_READ, P.STREAM_READ, P.TICKETS_CREATE, P.TICKETS_ACKNOWLEDGE, P.TICKETS_UPDATE}
    ),
    Role.ADMIN: frozenset(Permission),
}

API_PREFIX = "/api/v1"
_V1 = API_PREFIX
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("GET", f"{_V1}/tickets"): P.TICKETS_READ,
    ("GET", f"{_V1}/tickets/{{number}}"): P.TICKETS_READ,
    ("POST", f"{_V1}/tickets"): P.TICKETS_CREATE,
    ("POST", f"{_V1}/tickets/{{number}}/acknowledge"): P.TICKETS_ACKNOWLEDGE,
    ("POST", f"{_V1}/tickets/{{number}}/progress"): P.TICKETS_UPDATE,
    ("POST", f"{_V1}/tickets/{{number}}/plan"): P.TICKETS_UPDATE,
    ("POST", f"{_V1}/tickets/{{number}}/start"): P.TICKETS_MANAGE,
    ("POST", f"{_V1}/tickets/{{number}}/resolve"): P.TICKETS_MANAGE,
    ("POST", f"{_V1}/tickets/{{number}}/close"): P.TICKETS_MANAGE,
    ("POST", f"{_V1}/tickets/{{number}}/reopen"): P.TICKETS_MANAGE,
    ("POST", f"{_V1}/tickets/{{number}}/cancel"): P.TICKETS_MANAGE,
    ("POST", f"{_V1}/tickets/{{number}}/reassign"): P.TICKETS_MANAGE,
    ("GET", f"{_V1}/alerts"): P.ALERTS_READ,
    ("GET", f"{_V1}/alerts/stream"): P.STREAM_READ,
    ("GET", f"{_V1}/devices"): P.DEVICES_READ,
    ("GET", f"{_V1}/devices/{{site}}/{{device}}"): P.DEVICES_READ,
    ("GET", f"{_V1}/devices/{{site}}/{{device}}/telemetry"): P.TELEMETRY_READ,
    ("GET", f"{_V1}/dead-letters"): P.DEAD_LETTERS_READ,
    ("GET", f"{_V1}/patrol/compliance"): P.PATROL_READ,
    ("GET", f"{_V1}/reports/monthly"): P.REPORTS_READ,
    ("GET", f"{_V1}/silences"): P.SILENCES_READ,
    ("GET", f"{_V1}/silences/{{silence_id}}"): P.SILENCES_READ,
    ("POST", f"{_V1}/silences"): P.SILENCES_WRITE,
    ("POST", f"{_V1}/silences/{{silence_id}}/end"): P.SILENCES_WRITE,
    ("GET", f"{_V1}/deliveries"): P.DELIVERIES_READ,
    ("GET", f"{_V1}/deliveries/{{delivery_id}}"): P.DELIVERIES_READ,
    ("GET", f"{_V1}/deliveries/endpoints"): P.DELIVERIES_READ,
    ("GET", f"{_V1}/deliveries/endpoints/{{name}}"): P.DELIVERIES_READ,
    ("POST", f"{_V1}/deliveries/{{delivery_id}}/replay"): P.DELIVERIES_MANAGE,
    ("POST", f"{_V1}/deliveries/endpoints/{{name}}/enable"): P.DELIVERIES_MANAGE,
    ("POST", f"{_V1}/deliveries/endpoints/{{name}}/replay-failed"): P.DELIVERIES_MANAGE,
    ("POST", f"{_V1}/admin/reload-config"): P.CONFIG_RELOAD,
    ("GET", f"{_V1}/keys"): P.KEYS_MANAGE,
    ("POST", f"{_V1}/keys"): P.KEYS_MANAGE,
    ("DELETE", f"{_V1}/keys/{{key_id}}"): P.KEYS_MANAGE,
}
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Outside ``/api/v1``, never behind a key: probes, and counters with no site, ticket or
secret in them (``/metrics``; keep it on the private network like the probes)."""


class Unauthenticated(Exception):  # noqa: N818
    """401: no key, or one that is not (or no longer) valid."""


class Forbidden(Exception):  # noqa: N818
    """403: a valid key whose role or site scope does not allow this."""

    def __init__(self, message: str, details: dict[str, str | None]) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Principal:
    """The caller, as the key says: what it may do, and on which site."""

    name: str
    role: Role
    site: str | None
    """The one site this caller sees; None: every site."""
    key: str
    """How to name the key in logs and history: its prefix, never its secret."""

    @property
    def via(self) -> Via:
        """The key, as the history records every change made with it (``data.via``)."""
        return Via(key=self.key, name=self.name)

    def can(self, permission: Permission) -> bool:
        if self.site is not None and permission in ALL_SITES_ONLY:
            return False
        return permission in GRANTS[self.role]

    def sees(self, site: str) -> bool:
        return self.site is None or self.site == site

    def may_act_on(self, site: str) -> None:
        """Creating something for another site is refused outright (403)."""
        if not self.sees(site):
            raise Forbidden(
                f"this key is limited to site '{self.site}' and cannot act on site '{site}'",
                {"site": self.site},
            )


OPEN = Principal(name="open API (no keys configured)", role=Role.ADMIN, site=None, key="open")
BOOTSTRAP = Principal(name="STEWARD_ADMIN_API_KEY", role=Role.ADMIN, site=None, key="bootstrap")


@dataclass
class Gate:
    """Per app: whether keys are required yet. Monotonic (a key never un-exists), so once
    closed no request asks the database again; while open each request does, so a key made
    with ``steward keys create`` locks a running service at once."""

    closed: bool = False


def api_is_open(steward: Steward) -> bool:
    """No bootstrap key and no stored key (revoked ones count): the API answers anyone."""
    keys = ApiKeyStore(steward.sessions, steward.clock)
    return steward.settings.admin_api_key is None and not keys.any_exist()


def announce_access(steward: Steward) -> None:
    """Said once at start-up, loudly when the API is open."""
    if api_is_open(steward):
        log.warning(
            "API is OPEN: no STEWARD_ADMIN_API_KEY and no API keys, so anyone who can reach "
            "http://%s:%d can read and change tickets. Make a key with "
            "'steward keys create --name NAME --role admin' (or set STEWARD_ADMIN_API_KEY)",
            steward.settings.http_host,
            steward.settings.http_port,
        )
    else:
        log.info(
            "API keys required on /api/v1 (bootstrap key %s; stored keys: 'steward keys list')",
            "set" if steward.settings.admin_api_key else "unset",
        )


bearer = HTTPBearer(
    auto_error=False,  # a missing key is our 401, in the API's error shape
    scheme_name="api_key",
    description="An API key (`steward keys create`) or STEWARD_ADMIN_API_KEY",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def authenticate(
    request: Request, steward: StewardDep, credentials: Credentials
) -> Principal:
    """Who is calling. ``async`` so that the bootstrap key, compared in memory, costs no
    hand-off to the thread pool and back (FastAPI runs a plain ``def`` dependency there);
    everything else may read the database (stored keys, whether any exists) and is checked
    in the pool, by ``check_key``."""
    bootstrap = steward.settings.admin_api_key
    token = credentials.credentials.strip() if credentials else ""
    if (
        bootstrap is not None
        and token
        and hmac.compare_digest(token.encode(), bootstrap.get_secret_value().encode())
    ):
        request.app.state.access_gate.closed = True  # as check_key would: a key exists
        return BOOTSTRAP
    return await run_in_threadpool(check_key, request, steward, credentials)


def check_key(
    request: Request, steward: Steward, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    gate: Gate = request.app.state.access_gate
    bootstrap = steward.settings.admin_api_key
    keys = ApiKeyStore(steward.sessions, steward.clock)
    if not gate.closed and (bootstrap is not None or keys.any_exist()):
        gate.closed = True
    if not gate.closed:
        return OPEN
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    if bootstrap is not None and hmac.compare_digest(
        token.encode(), bootstrap.get_secret_value().encode()
    ):
        return BOOTSTRAP
    try:
        key = keys.authenticate(token)
    except KeyRejected as exc:
        log.info("refused %s %s: %s", request.method, request.url.path, exc)
        raise Unauthenticated(str(exc)) from None
    return Principal(name=key.name, role=key.role, site=key.site, key=f"stw_{key.prefix}")


Caller = Annotated[Principal, Depends(authenticate)]


def recheck(steward: Steward, caller: Principal, permission: Permission) -> str | None:
    """Why ``caller``, let in earlier, may no longer do ``permission`` as it was let in to
    (``None``: it still may), for a request that lasts (the SSE stream). A stored key is looked
    up by its prefix, not hashed again: revoked, gone, given another site scope (the request
    was filtered by the old one) or a role without ``permission`` ends it. The open API ends
    once a key exists; the bootstrap key lasts as long as the process (settings are read
    once)."""
    if caller is BOOTSTRAP:
        return None
    if caller is OPEN:
        if api_is_open(steward):
            return None
        return "the API is no longer open: API keys are required now"
    prefix = caller.key.removeprefix(f"{KEY_MARK}_")
    key = ApiKeyStore(steward.sessions, steward.clock).current(prefix)
    named = f"API key {caller.key}_… ({caller.name})"
    if key is None:
        return f"{named} no longer exists"
    if key.revoked_at is not None:
        return f"{named} has been revoked"
    if key.site != caller.site:
        scope = f"site '{key.site}'" if key.site else "every site"
        return f"{named} is now for {scope}: connect again"
    if not Principal(name=key.name, role=key.role, site=key.site, key=caller.key).can(permission):
        return f"{named} ({key.role.value}) no longer has the '{permission.value}' permission"
    return None


def route_permission(request: Request) -> Permission | None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return None
    # FastAPI ≥ 0.16x hands over the route as its router declared it ("/tickets/{number}"),
    # older versions the app's flattened copy ("/api/v1/tickets/{number}").
    path = route.path_format
    if not path.startswith(f"{API_PREFIX}/"):
        path = API_PREFIX + path
    return ROUTE_PERMISSIONS.get((request.method, path))


async def authorize(request: Request, caller: Caller) -> None:
    """The router-level check: the route's permission from ``ROUTE_PERMISSIONS``. ``async``
    because it only looks things up: a plain ``def`` would be run in the thread pool.
    (``authenticate`` hands stored keys to the thread pool: they are read from the
    database.)"""
    needed = route_permission(request)
    if needed is None:  # fail closed: a route nobody gave a permission
        log.error("no permission mapped for %s %s", request.method, request.url.path)
        raise Forbidden(
            "this route has no permission in api.access.ROUTE_PERMISSIONS: refused to all",
            {"needed": None, "role": caller.role.value},
        )
    if not caller.can(needed):
        scoped = caller.site is not None and needed in ALL_SITES_ONLY
        raise Forbidden(
            f"this key ({caller.role.value}"
            + (f", site '{caller.site}'" if caller.site else "")
            + f") lacks the '{needed.value}' permission"
            + (": it needs an unscoped key" if scoped else ""),
            {"needed": needed.value, "role": caller.role.value},
        )
