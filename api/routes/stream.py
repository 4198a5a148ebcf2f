"""``GET /api/v1/alerts/stream``: live ticket events as Server-Sent Events.

Fed from the outbox, not from process memory, so it shows every change whichever process
made it. Each event's SSE ``id`` is its outbox position: a client that reconnects with
``Last-Event-ID`` (browsers' ``EventSource`` does it by itself) continues right after the last
event it saw and misses nothing. Without it the stream starts with the next change.

The key is checked again every ``KEY_RECHECK_S`` while the stream runs: once it is revoked
(or its site scope changes, or the open API gets its first key) the stream ends with a
comment saying why, and the client's reconnect meets the 401 (or its new scope).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import orjson
from fastapi import APIRouter, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import WithJsonSchema
from starlette.concurrency import run_in_threadpool

from api.access import Caller, Permission, recheck
from api.deps import StewardDep
from api.errors import ACCESS_RESPONSES, INVALID_INPUT, as_json
from tickets.models import MAX_ROW_ID

router = APIRouter(prefix="/alerts", tags=["alerts"])
log = logging.getLogger("steward.api.stream")

POLL_INTERVAL_S = 0.25
KEY_RECHECK_S = 5.0
"""How long a stream may outlive its key's revocation: one look-up by prefix each time."""
BATCH = 200
RECONNECT_MS = 2000
# Documented as a plain string: a header is absent or a string, never JSON null (FastAPI
# would say "string or null", and a client following that sends the text "null").
Position = Annotated[
    str | None,
    Header(pattern=r"^[0-9]{1,18}$"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,18}$"}),
]


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses=as_json({**ACCESS_RESPONSES, **INVALID_INPUT}),
)
async def stream_ticket_events(
    steward: StewardDep,
    caller: Caller,
    last_event_id: Position = None,
    after: Annotated[int | None, Query(ge=0, description="as Last-Event-ID")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """CloudEvents (contract §6) as SSE: ``event`` is the type, ``id`` the resume position.
    A site-scoped key gets its own site's events only. The key is checked again every few
    seconds: once revoked (or its site scope changed) the stream ends, after a comment
    (``: stream ended: ...``) saying why."""
    if last_event_id is not None:
        position = int(last_event_id)
    elif after is not None:
        position = after
    else:
        position = await run_in_threadpool(steward.tickets.last_outbox_pk)
    position = min(position, MAX_ROW_ID)  # past every id either way; PostgreSQL refuses more
    yield ServerSentEvent(comment=f"steward ticket events after {position}", retry=RECONNECT_MS)
    recheck_at = anyio.current_time() + KEY_RECHECK_S
    commits = steward.commits
    while True:
        if anyio.current_time() >= recheck_at:
            why = await run_in_threadpool(recheck, steward, caller, Permission.STREAM_READ)
            if why is not None:
                log.info(
                    "ended the ticket event stream of %s after %d: %s", caller.key, position, why
                )
                yield ServerSentEvent(comment=f"stream ended: {why}")
                return
            recheck_at = anyio.current_time() + KEY_RECHECK_S
        committed = commits.waiter()
        try:
            events = await run_in_threadpool(
                steward.tickets.outbox_after, event_pk=position, limit=BATCH
            )
            for event in events:
                position = event.pk
                if not caller.sees(event.site):
                    continue
                yield ServerSentEvent(
                    raw_data=orjson.dumps(event.payload).decode(),
                    event=event.type.value,
                    id=str(event.pk),
                )
            if len(events) < BATCH:
                # woken by a commit of this process, or polling for other processes' changes
                with anyio.move_on_after(POLL_INTERVAL_S):
                    await committed.wait()
        finally:
            commits.forget(committed)
