"""POST/DELETE /api/v1/session: sign in and out, and the first sign-in's setup.

Two kinds of caller: scripts and tests send JSON and get JSON; the sign-in page posts a
plain HTML form (it works before any JavaScript loads) and gets a 303 redirect. Either way
the session token only ever travels in an HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from ccm_pwa.api.errors import ApiError
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.sessions import (
    COOKIE_NAME,
    SECURE_COOKIE_NAME,
    SignedIn,
    resolve_session,
    revoke_all_sessions,
    revoke_session,
    token_from_cookie_header,
)
from ccm_pwa.auth.sign_in import WRONG_CURRENT, change_password, complete_setup, sign_in
from ccm_pwa.config import load_settings
from ccm_pwa.db import session_scope

router = APIRouter(prefix="/session", tags=["session"])
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


class SignInRequest(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)
    otp: str = Field(default="", max_length=40)


def _now() -> datetime:
    return datetime.now(UTC)


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def _client(request: Request) -> tuple[str, str]:
    ip = request.client.host if request.client else ""
    return ip, f"ua={request.headers.get('user-agent', '')[:200]}"


def set_session_cookie(response: Response, token: str, request: Request) -> None:
    secure = _is_https(request)
    response.set_cookie(
        SECURE_COOKIE_NAME if secure else COOKIE_NAME, token, httponly=True, secure=secure,
        samesite="strict", path="/",
        max_age=load_settings().session_absolute_hours * 3600)


def clear_session_cookie(response: Response) -> None:
    for name in (COOKIE_NAME, SECURE_COOKIE_NAME):
        response.delete_cookie(name, path="/", secure=name.startswith("__Host-"),
                               httponly=True, samesite="strict")


def _attempt(request: Request, email: str, password: str, otp: str):
    ip, client = _client(request)
    with session_scope() as session:
        return sign_in(session=session, email=email, password=password, code=otp,
                       client=client, ip=ip, now=_now())


@router.get("")
def read_session(request: Request) -> JSONResponse:
    """Who is signed in (the phone asks before syncing); 401 when nobody is."""
    with session_scope() as session:
        signed_in = _signed_in(session, request, _now())
        if signed_in is None:
            raise ApiError(401, "unauthenticated", "not signed in")
        user = signed_in.user
        body = {"user": {"name": user.name, "role": user.role, "email": user.email},
                "needs_setup": signed_in.needs_setup,
                "expires_at": signed_in.auth_session.absolute_expires_at.isoformat()}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("", responses={401: {"description": "sign-in failed (generic message)"}})
def create_session_json(request: Request, body: SignInRequest) -> JSONResponse:
    """Sign in with email, password and the authenticator's code (JSON)."""
    outcome = _attempt(request, body.email, body.password, body.otp)
    if not outcome.ok or outcome.token is None or outcome.user is None:
        raise ApiError(401, "unauthenticated", outcome.message)
    response = JSONResponse({"user": {"name": outcome.user.name, "role": outcome.user.role},
                             "needs_setup": outcome.needs_setup},
                            headers={"Cache-Control": "no-store"})
    set_session_cookie(response, outcome.token, request)
    return response


@router.post("/form", include_in_schema=False)
def create_session_form(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    otp: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The sign-in page's form: redirect to the app, to setup, or back with a generic error."""
    outcome = _attempt(request, email, password, otp)
    if not outcome.ok or outcome.token is None:
        return RedirectResponse("/login?failed=1", status_code=303)
    response = RedirectResponse("/account/setup" if outcome.needs_setup else "/",
                                status_code=303)
    set_session_cookie(response, outcome.token, request)
    return response


@router.delete("", status_code=204)
def delete_session(request: Request) -> Response:
    """Sign out: revoke the session on the server and tell the browser to forget it."""
    _revoke(request)
    response = Response(status_code=204, headers={"Clear-Site-Data": CLEAR_SITE_DATA})
    clear_session_cookie(response)
    return response


@router.post("/sign-out", include_in_schema=False)
def sign_out_form(request: Request) -> Response:
    _revoke(request)
    response = RedirectResponse("/login?signed_out=1", status_code=303,
                                headers={"Clear-Site-Data": CLEAR_SITE_DATA})
    clear_session_cookie(response)
    return response


@router.post("/setup", include_in_schema=False)
def complete_setup_form(
    request: Request,
    new_password: Annotated[str, Form(max_length=256)],
    confirm_password: Annotated[str, Form(max_length=256)],
    otp: Annotated[str, Form(max_length=40)],
) -> Response:
    """First sign-in: new password and first TOTP code; shows the recovery codes once."""
    now, client = _now(), _client(request)[1]
    with session_scope() as session:
        signed_in = _signed_in(session, request, now)
        if signed_in is None:
            return RedirectResponse("/login", status_code=303)
        outcome = complete_setup(
            session=session, user=signed_in.user,
            new_password=new_password, confirm_password=confirm_password, code=otp,
            client=client, now=now)
    if not outcome.ok or outcome.token is None:
        return RedirectResponse(f"/account/setup?problem={_problem_key(outcome.message)}",
                                status_code=303)
    response = HTMLResponse(_recovery_codes_page(outcome.recovery_codes),
                            headers={"Cache-Control": "no-store"})
    set_session_cookie(response, outcome.token, request)
    return response


@router.post("/password", include_in_schema=False)
def change_password_form(
    request: Request,
    current_password: Annotated[str, Form(max_length=256)],
    otp: Annotated[str, Form(max_length=40)],
    new_password: Annotated[str, Form(max_length=256)],
    confirm_password: Annotated[str, Form(max_length=256)],
) -> Response:
    """Change the password (re-authenticated); signs out every other device."""
    now, client = _now(), _client(request)[1]
    with session_scope() as session:
        signed_in = _signed_in(session, request, now)
        if signed_in is None or signed_in.needs_setup:
            return RedirectResponse("/login", status_code=303)
        outcome = change_password(
            session=session, user=signed_in.user, current_password=current_password, code=otp,
            new_password=new_password, confirm_password=confirm_password, client=client,
            now=now)
    if not outcome.ok or outcome.token is None:
        problem = next((k for k, v in PASSWORD_PROBLEMS.items() if v == outcome.message),
                       "current")
        return RedirectResponse(f"/account?problem={problem}", status_code=303)
    response = RedirectResponse("/account?changed=1", status_code=303)
    set_session_cookie(response, outcome.token, request)
    return response


@router.post("/sign-out-everywhere", include_in_schema=False)
def sign_out_everywhere_form(request: Request) -> Response:
    """Lost or shared device: end every session of this user, here included."""
    now = _now()
    with session_scope() as session:
        signed_in = _signed_in(session, request, now)
        if signed_in is not None:
            ended = revoke_all_sessions(session=session, user_id=signed_in.user.id, now=now)
            record_audit(session=session, action="session.revoke_all",
                         user_id=signed_in.user.id, client=_client(request)[1],
                         detail={"sessions": ended}, occurred_at=now)
    response = RedirectResponse("/login?signed_out=1", status_code=303,
                                headers={"Clear-Site-Data": CLEAR_SITE_DATA})
    clear_session_cookie(response)
    return response


PASSWORD_PROBLEMS = {
    "current": WRONG_CURRENT,
    "mismatch": "The two passwords differ.",
    "short": "Use at least 12 characters.",
    "email": "Do not use your email in the password.",
    "reused": "Choose a password different from your current password.",
}


def _signed_in(session: Session, request: Request, now: datetime) -> SignedIn | None:
    token = token_from_cookie_header(request.headers.get("cookie", ""))
    return resolve_session(session=session, token=token, now=now)


def _revoke(request: Request) -> None:
    token = token_from_cookie_header(request.headers.get("cookie", ""))
    if token:
        with session_scope() as session:
            revoke_session(session=session, token=token, now=_now())


SETUP_PROBLEMS = {
    "mismatch": "The two passwords differ.",
    "short": "Use at least 12 characters.",
    "email": "Do not use your email in the password.",
    "reused": "Choose a password different from the one-time password.",
    "code": "That code did not match. Type the 6 digits your authenticator app shows now.",
}


def _problem_key(message: str) -> str:
    for key, text in SETUP_PROBLEMS.items():
        if text == message:
            return key
    return "code"


def _recovery_codes_page(codes: list[str]) -> str:
    items = "".join(f"<li><code>{escape(code)}</code></li>" for code in codes)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Recovery codes</title><style>body{font-family:system-ui,sans-serif;"
        "margin:24px;max-width:32rem}code{font-size:18px}li{margin:6px 0}"
        "a{display:inline-block;margin-top:16px;padding:12px 20px;background:#0d9488;"
        "color:#fff;border-radius:8px;text-decoration:none}</style></head><body>"
        "<h1>Two-step sign-in is set up</h1>"
        "<p>Keep these recovery codes somewhere safe (not on this phone). Each works once, "
        "in place of a code from your authenticator app, if you lose your phone.</p>"
        f"<ol aria-label='Recovery codes'>{items}</ol>"
        "<p>They are shown only now.</p><a href='/'>Continue to the app</a></body></html>")
