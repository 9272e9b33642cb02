"""Signed-in front page: the patients on my caseload and this month's minutes."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.audit import record_audit
from ccm_pwa.db import session_scope
from ccm_pwa.services.caseload import caseload
from ccm_pwa.ui.components.layout import app_shell, table_caption
from ccm_pwa.ui.states.auth import AuthState


class CaseloadState(AuthState):
    month: str = ""
    rows: list[dict[str, str]] = []

    @rx.event
    def load(self) -> None:
        self.rows = []
        try:
            user = self._require_user()
        except AccessDenied:
            return  # AuthState.guard, which runs first, has already sent them to sign-in
        with session_scope() as session:
            self.month, rows = caseload(session=session, user=user, now=datetime.now(UTC))
            record_audit(session=session, action="caseload.view", user_id=user.id,
                         client=self._client(), detail={"patients": len(rows)})
        self.rows = [
            {"name": r.name, "mrn": r.mrn, "program": r.program.replace("_", " "),
             "minutes": str(r.minutes), "codes": r.claim_codes or "—",
             "next": f"{r.minutes_to_next} min to {r.next_code}" if r.next_code else "done"}
            for r in rows
        ]


def _row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(rx.text(row["name"], weight="medium"),
                                           rx.text("MRN ", row["mrn"], size="1",
                                                   color_scheme="gray"), spacing="0")),
        rx.table.cell(row["minutes"]),
        rx.table.cell(row["codes"]),
        rx.table.cell(row["next"]),
    )


@rx.page(route="/", title="Caseload · ccm_pwa", on_load=[AuthState.guard, CaseloadState.load])
def home_page() -> rx.Component:
    return app_shell(
        rx.heading("My caseload", size="6", as_="h1"),
        rx.text("Minutes this month (", CaseloadState.month, ")", color_scheme="gray"),
        rx.table.root(
            table_caption("Caseload"),
            rx.table.header(rx.table.row(
                rx.table.column_header_cell("Patient"),
                rx.table.column_header_cell("Minutes"),
                rx.table.column_header_cell("Billable"),
                rx.table.column_header_cell("Next"),
            )),
            rx.table.body(rx.foreach(CaseloadState.rows, _row)),
            width="100%", size="2",
        ),
    )
