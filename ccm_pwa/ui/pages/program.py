"""Program month (supervisor): what the practice bills, what it will bill, the last six
months, and the funnel from eligible to billable — for the practice or one care manager."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.services.program_month import program_month
from ccm_pwa.services.team_scope import require_team_member, team_members
from ccm_pwa.ui.components.bars import bar_rows, scaled
from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.practice_picker import practice_picker
from ccm_pwa.ui.states.auth import AuthState
from ccm_pwa.ui.states.supervisor import SupervisorState, dollars, parse_month, this_month

PRACTICE = "practice"


class ProgramState(SupervisorState):
    month: str = ""
    scope: str = PRACTICE
    scope_name: str = ""
    people: list[list[str]] = []
    summary: dict[str, str] = {}
    codes: list[dict[str, str]] = []
    projected_codes: list[dict[str, str]] = []
    history: list[dict[str, str]] = []
    history_revenue: list[dict[str, str]] = []
    funnel: list[dict[str, str]] = []

    @rx.event
    def load(self) -> None:
        self._show(self.router.url.query_parameters.get("month", ""), PRACTICE)

    @rx.event
    def choose(self, form: dict[str, str]) -> None:
        self._show(form.get("month", ""), form.get("scope", PRACTICE))

    def _show(self, month_text: str, scope: str) -> None:
        try:
            user, practice = self._overseer()
        except AccessDenied:
            return
        now = datetime.now(UTC)
        month = parse_month(month_text, this_month(practice, now))
        with session_scope() as session:
            self.people = [[str(m.id), m.name] for m in team_members(session=session,
                                                                        viewer=user)]
            member_id = None
            if scope != PRACTICE:
                try:
                    member_id = require_team_member(session=session, viewer=user,
                                                    user_id=scope).id
                except AccessDenied:
                    scope = PRACTICE
            figures = program_month(session=session, practice=practice, month=month,
                                    care_manager_id=member_id, now=now)
        self.month, self.scope, self.scope_name = str(month), scope, figures.scope
        self.summary = {
            "enrolled": str(figures.enrolled_patients),
            "billable": str(figures.billable_patients),
            "claim_lines": str(figures.claim_lines), "revenue": dollars(figures.revenue_cents),
            "projected_billable": str(figures.projected_billable_patients),
            "projected_lines": str(figures.projected_claim_lines),
            "projected_revenue": dollars(figures.projected_revenue_cents),
            "fee_year": str(figures.fee_year),
        }
        self.codes = [{"code": c.code, "patients": str(c.patients), "units": str(c.units)}
                      for c in figures.by_code]
        self.projected_codes = [{"code": c.code, "patients": str(c.patients),
                                 "units": str(c.units)} for c in figures.projected_by_code]
        self.history = scaled([(h.month, h.billable_patients, f"{h.billable_patients} pts")
                               for h in figures.history])
        self.history_revenue = scaled([(h.month, h.revenue_cents, dollars(h.revenue_cents))
                                       for h in figures.history])
        f = figures.funnel
        self.funnel = scaled([("Eligible", f.eligible, str(f.eligible)),
                              ("Consented", f.consented, str(f.consented)),
                              ("Enrolled", f.enrolled, str(f.enrolled)),
                              ("Reached", f.reached, str(f.reached)),
                              ("Billable", f.billable, str(f.billable))])


def _stat(label: str, key: str) -> rx.Component:
    return rx.vstack(rx.text(ProgramState.summary[key], size="6", weight="bold"),
                     rx.text(label, size="1", color_scheme="gray"), spacing="0",
                     min_width="9.5rem", padding_right="12px")


def _code_table(rows: rx.Var[list[dict[str, str]]], caption: str) -> rx.Component:
    return rx.table.root(
        rx.el.caption(caption, style={"textAlign": "left", "fontWeight": 600}),
        rx.table.header(rx.table.row(rx.table.column_header_cell("Code"),
                                     rx.table.column_header_cell("Patients"),
                                     rx.table.column_header_cell("Units"))),
        rx.table.body(rx.foreach(rows, lambda r: rx.table.row(
            rx.table.cell(r["code"]), rx.table.cell(r["patients"]), rx.table.cell(r["units"])))),
        size="1", width="100%")


@rx.page(route="/program", title="Program month · ccm_pwa",
         on_load=[AuthState.guard, ProgramState.load])
def program_page() -> rx.Component:
    return app_shell(
        rx.heading("Program month", size="7", as_="h1"),
        practice_picker("/program"),
        rx.form(rx.flex(
            rx.el.label("Month", html_for="program-month", style={"fontWeight": 500}),
            rx.el.input(id="program-month", name="month", type="month",
                        default_value=ProgramState.month, key=ProgramState.month,
                        style={"minHeight": "44px", "fontSize": "16px"}),
            rx.el.label("For", html_for="program-scope", style={"fontWeight": 500}),
            rx.el.select(rx.el.option("The practice", value=PRACTICE),
                         rx.foreach(ProgramState.people,
                                    lambda p: rx.el.option(p[1], value=p[0])),
                         id="program-scope", name="scope", default_value=ProgramState.scope,
                         key=ProgramState.scope, style={"minHeight": "44px", "fontSize": "16px"}),
            rx.button("Show", type="submit", size="3"),
            gap="3", wrap="wrap", align="center"), on_submit=ProgramState.choose),
        rx.text(ProgramState.practice_name, " · ", ProgramState.scope_name, " · ",
                ProgramState.month, " · fees of ",
                ProgramState.summary["fee_year"], color_scheme="gray", margin_top="8px"),
        rx.flex(_stat("enrolled", "enrolled"), _stat("billable so far", "billable"),
                _stat("claim lines", "claim_lines"), _stat("billed so far", "revenue"),
                _stat("projected billable", "projected_billable"),
                _stat("projected lines", "projected_lines"),
                _stat("projected revenue", "projected_revenue"),
                wrap="wrap", gap="4", margin_y="12px", role="group",
                aria_label="Month figures"),
        rx.grid(_code_table(ProgramState.codes, "Billable so far, by code"),
                _code_table(ProgramState.projected_codes, "Projected at month end, by code"),
                columns=rx.breakpoints(initial="1", md="2"), gap="4", width="100%"),
        rx.heading("Last six months", size="4", as_="h2", margin_top="16px"),
        rx.grid(rx.vstack(rx.text("Billable patients", weight="medium", size="2"),
                          bar_rows(ProgramState.history, "Billable patients by month"),
                          width="100%"),
                rx.vstack(rx.text("Revenue", weight="medium", size="2"),
                          bar_rows(ProgramState.history_revenue, "Revenue by month"),
                          width="100%"),
                columns=rx.breakpoints(initial="1", md="2"), gap="7", width="100%"),
        rx.heading("Funnel this month", size="4", as_="h2", margin_top="16px"),
        rx.text("Eligible (≥ 2 chronic conditions, PCM: 1) → consented → enrolled → reached "
                "this month → billable", size="1", color_scheme="gray"),
        bar_rows(ProgramState.funnel, "Funnel"),
    )
