"""The signed-in user, read on the server from the session cookie of the websocket handshake.

Every screen's state derives from `AuthState` and starts each event handler with
`self._require_user(...)` or `self._require_patient(...)`: the browser can call any public
handler with any arguments, so the check is on the server, every time (checklist B22).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import (
    AccessDenied,
    overseen_practices,
    require_patient,
    require_role,
)
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.auth.sessions import resolve_session, token_from_cookie_header
from ccm_pwa.db import session_scope
from ccm_pwa.models import Patient, Role, User

SIGN_IN = "/login"
SETUP = "/account/setup"


class AuthState(rx.State):
    """Name and role for the top bar; the user id itself stays on the server."""

    user_name: str = ""
    user_role: str = ""
    # practices where she is a supervisor or admin (maybe not her own): the team screens'
    # links, and "All practices" from two on
    overseen: int = 0
    _user_id: str = ""

    def _client(self) -> str:
        headers = self.router.headers
        return f"reflex token={self.router.session.client_token[:8]} ua={headers.user_agent[:120]}"

    def _current_user(self) -> User | None:
        token = token_from_cookie_header(self.router.headers.cookie)
        with session_scope() as session:
            signed_in = resolve_session(session=session, token=token, now=datetime.now(UTC))
            if signed_in is None or signed_in.needs_setup:
                return None
            return signed_in.user

    def _require_user(self, *roles: Role) -> User:
        """The signed-in user (with one of `roles`, if given), or AccessDenied."""
        user = self._current_user()
        if user is None:
            self.user_name = self.user_role = self._user_id = ""
            raise AccessDenied
        if roles:
            try:
                require_role(user, *roles)
            except AccessDenied:
                self._record_denial(user, None, "role")
                raise
        self.user_name, self.user_role, self._user_id = user.name, str(user.role), str(user.id)
        return user

    def _require_patient(self, patient_id: str) -> tuple[User, Patient]:
        """The patient, if on the signed-in user's caseload; a refusal is audited."""
        user = self._require_user()
        with session_scope() as session:
            try:
                return user, require_patient(session=session, user=user, patient_id=patient_id)
            except AccessDenied:
                self._record_denial(user, patient_id, "caseload")
                raise

    def _record_denial(self, user: User, patient_id: str | None, why: str) -> None:
        try:
            patient_uuid = uuid.UUID(str(patient_id)) if patient_id else None
        except ValueError:
            patient_uuid = None
        with session_scope() as session:
            known = patient_uuid is not None and session.get(Patient, patient_uuid) is not None
            record_audit(session=session, action="access.denied", user_id=user.id,
                         patient_id=patient_uuid if known else None, client=self._client(),
                         outcome="denied",
                         detail={"why": why, "handler": self.get_full_name(),
                                 "patient_id": str(patient_id) if patient_id else None})

    @rx.event
    def guard(self) -> rx.event.EventSpec | None:
        """on_load of every signed-in page: send strangers to sign-in, newcomers to setup."""
        token = token_from_cookie_header(self.router.headers.cookie)
        with session_scope() as session:
            signed_in = resolve_session(session=session, token=token, now=datetime.now(UTC))
            if signed_in is None:
                self.user_name = self.user_role = self._user_id = ""
                self.overseen = 0
                return rx.redirect(SIGN_IN, replace=True)
            if signed_in.needs_setup:
                return rx.redirect(SETUP, replace=True)
            user = signed_in.user
            self.overseen = len(overseen_practices(session=session, user=user))
        self.user_name, self.user_role, self._user_id = user.name, str(user.role), str(user.id)
        return None
