"""/api/v1/sync/wipe and /sync/wiped: a phone learns it is to be erased, and says it was.

Neither needs a session. The phone asks before it shows anything, and a lost phone's
session has usually expired by then; what it proves instead is its installation id, a
random UUID only that phone (and the server) knows. So an anonymous caller learns one bit
about an id it already holds, and can only ever record "erased" for an installation whose
erase was asked for (services/installations.py). Wrong-origin pages and non-JSON bodies
never get here (api/request_guard.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ccm_pwa.api.deps import NO_STORE, json_object, request_client
from ccm_pwa.api.errors import ApiError
from ccm_pwa.api.routes.session import clear_session_cookie
from ccm_pwa.auth.sessions import resolve_session, revoke_session, token_from_cookie_header
from ccm_pwa.db import session_scope
from ccm_pwa.services.installations import confirm_wipe, wipe_requested

router = APIRouter(prefix="/sync", tags=["field"])


@router.get("/wipe", responses={422: {"description": "client_id missing or not a UUID"}})
def read_wipe(
    client_id: Annotated[str | None, Query(description="the installation's uuid")] = None,
) -> JSONResponse:
    """`{"wipe": true}` when this installation is to be erased now; `false` otherwise,
    unknown ids included (an id nobody registered has nothing to erase)."""
    wanted = _client_id(client_id)
    with session_scope() as session:
        wipe = wipe_requested(session=session, client_id=wanted)
    return JSONResponse({"wipe": wipe}, headers=NO_STORE)


@router.post("/wiped", status_code=204,
             responses={422: {"description": "body is not {client_id: uuid}"}})
async def confirm_wiped(request: Request) -> Response:
    """`{"client_id": uuid}`: the phone erased its store. Recorded (and audited) once, when
    an erase had been asked for; 204 whatever happened, so the answer says nothing about
    the id.

    A session cookie sent along, of the installation's own user, is signed out too: the
    phone cannot delete its HttpOnly cookie itself, and an erased phone must not stay
    signed in.
    """
    body = await json_object(request)
    wanted = _client_id(body.get("client_id"))
    token = token_from_cookie_header(request.headers.get("cookie", ""))
    signed_out = await run_in_threadpool(_confirm, wanted, token, request_client(request))
    response = Response(status_code=204, headers=NO_STORE)
    if signed_out:
        clear_session_cookie(response)
    return response


def _client_id(value: object) -> uuid.UUID:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ApiError(422, "malformed", "client_id: expected the installation's UUID")


def _confirm(client_id: uuid.UUID, token: str | None, client: str) -> bool:
    """Whether the caller's session was signed out along with the confirmation."""
    now = datetime.now(UTC)
    with session_scope() as session:
        owner = confirm_wipe(session=session, client_id=client_id, now=now,
                             client=f"sync {client_id} {client}")
        if owner is None or token is None:
            return False
        signed_in = resolve_session(session=session, token=token, now=now, touch=False)
        if signed_in is None or signed_in.user.id != owner:
            return False
        revoke_session(session=session, token=token, now=now)
        return True
