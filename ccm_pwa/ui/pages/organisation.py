"""All practices (the managed team's supervisor, an organisation admin): each practice she
oversees this month, the total, and each care manager's minutes practice by practice."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.services.organisation_month import PracticeFigures, organisation_month
from ccm_pwa.ui.components.layout import app_shell, table_caption
from ccm_pwa.ui.states.auth import AuthState
from ccm_pwa.ui.states.supervisor import SupervisorState, dollars

COLUMNS = ("Practice", "Time zone", "Month", "Enrolled", "Billable now", "At risk", "Blocked",
           "Minutes", "Expected", "Projected billable", "Projected claims", "Projected $")


def _cells(row: PracticeFigures) -> list[str]:
    month = row.month + (f" ({row.days_left} days left)" if row.days_left is not None else "")
    return [row.practice, row.timezone, month, str(row.enrolled_patients),
            str(row.billable_patients), str(row.at_risk_patients), str(row.blocked_patients),
            str(row.countable_minutes),
            dollars(row.expected_amount_cents), str(row.projected_billable_patients),
            str(row.projected_claim_lines), dollars(row.projected_revenue_cents)]


class OrganisationState(SupervisorState):
    rows: list[list[str]] = []
    people_header: list[str] = []
    people: list[list[str]] = []

    @rx.event
    def load(self) -> None:
        """Not `_overseer()`: that picks one practice; this screen shows all of hers,
        each in its own current month. Refused (audited, as `_overseer` does) for someone
        who oversees no practice."""
        self.rows, self.people, self.people_header = [], [], []
        try:
            user = self._require_user()
        except AccessDenied:
            return
        try:
            with session_scope() as session:
                figures = organisation_month(session=session, viewer=user, month=None,
                                             now=datetime.now(UTC))
        except AccessDenied:
            self._record_denial(user, None, "role")
            return
        self.rows = [_cells(r) for r in (*figures.practices, figures.total)]
        ids = [r.practice_id or "" for r in figures.practices]
        self.people_header = ["Care manager", *(r.practice for r in figures.practices),
                              "Total"]
        self.people = [[c.name, *(str(c.minutes_by_practice.get(i, 0)) for i in ids),
                        str(c.total_minutes)] for c in figures.care_managers]


def _row(cells: rx.Var[list[str]]) -> rx.Component:
    return rx.table.row(rx.foreach(cells, lambda c: rx.table.cell(c)))


@rx.page(route="/organisation", title="All practices · ccm_pwa",
         on_load=[AuthState.guard, OrganisationState.load])
def organisation_page() -> rx.Component:
    return app_shell(
        rx.heading("All practices", size="7", as_="h1"),
        rx.text("Each practice in its own month and time zone; a supervisor's figures are "
                "her team's there.", color_scheme="gray", size="2"),
        rx.box(rx.table.root(
            table_caption("Practices this month"),
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in COLUMNS])),
            rx.table.body(rx.foreach(OrganisationState.rows, _row)),
            width="100%", size="1"), overflow_x="auto", width="100%", margin_top="12px"),
        rx.heading("Minutes per care manager", size="4", as_="h2", margin_top="16px"),
        rx.box(rx.table.root(
            table_caption("Minutes per care manager"),
            rx.table.header(rx.table.row(rx.foreach(
                OrganisationState.people_header, lambda h: rx.table.column_header_cell(h)))),
            rx.table.body(rx.foreach(OrganisationState.people, _row)),
            width="100%", size="1"), overflow_x="auto", width="100%"),
    )
