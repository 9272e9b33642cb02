"""Supervisors and admins: who read or changed what, and every sign-in (newest first), in
one practice at a time (the practice picker, for someone overseeing several)."""

from __future__ import annotations

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import session_scope
from ccm_pwa.services.audit_log import audit_lines
from ccm_pwa.ui.components.layout import app_shell, table_caption
from ccm_pwa.ui.components.practice_picker import practice_picker
from ccm_pwa.ui.states.auth import AuthState
from ccm_pwa.ui.states.supervisor import SupervisorState

SHOWN = 200


class AuditLogState(SupervisorState):
    lines: list[dict[str, str]] = []
    action_filter: str = ""

    @rx.event
    def load(self) -> None:
        self.lines = []
        try:
            self._load()
        except AccessDenied:
            return

    @rx.event
    def filter_by_action(self, form: dict[str, str]) -> None:
        self.action_filter = form.get("action", "").strip()[:64]
        self._load()

    def _load(self) -> None:
        user, practice = self._overseer()
        with session_scope() as session:
            lines = audit_lines(session=session, practice_id=practice.id,
                                action_contains=self.action_filter, limit=SHOWN)
            record_audit(session=session, action="audit.view", user_id=user.id,
                         client=self._client(), detail={"filter": self.action_filter,
                                                        "practice": str(practice.id)})
        self.lines = [{"time": line.occurred_at[:19].replace("T", " "), "user": line.user,
                       "action": line.action, "outcome": line.outcome,
                       "patient": line.patient_mrn} for line in lines]


def _line(line: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(line["time"]), rx.table.cell(line["user"]),
        rx.table.cell(line["action"]), rx.table.cell(line["outcome"]),
        rx.table.cell(line["patient"]),
    )


@rx.page(route="/audit", title="Audit log · ccm_pwa",
         on_load=[AuthState.guard, AuditLogState.load])
def audit_log_page() -> rx.Component:
    return app_shell(
        rx.heading("Audit log", size="6", as_="h1"),
        practice_picker("/audit"),
        rx.text(AuditLogState.practice_name, weight="medium"),
        rx.text(f"The newest {SHOWN} events (times in UTC). `ccm-pwa audit export` gives all.",
                color_scheme="gray", size="2"),
        rx.form(rx.hstack(
            rx.input(name="action", placeholder="Filter by action, e.g. sign_in",
                     aria_label="Filter by action"),
            rx.button("Filter", type="submit")), on_submit=AuditLogState.filter_by_action),
        rx.table.root(
            table_caption("Audit events"),
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Time", "User", "Action", "Outcome", "Patient")])),
            rx.table.body(rx.foreach(AuditLogState.lines, _line)),
            width="100%", size="1",
        ),
    )
