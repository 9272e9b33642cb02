"""Month close (supervisor): run the final checks on a finished month, lock it, and take the
billing CSV and the per-patient audit packets; reopening needs a reason. All audited."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.services.close_checks import CheckResult, close_checks
from ccm_pwa.services.month_close import MonthCloseError, close_month, month_state, reopen_month
from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.practice_picker import practice_picker
from ccm_pwa.ui.components.styles import BIG, INPUT
from ccm_pwa.ui.states.auth import AuthState
from ccm_pwa.ui.states.supervisor import SupervisorState, parse_month, this_month


def _check_rows(checks: list[CheckResult]) -> list[dict[str, str]]:
    return [{
        "title": c.title, "passed": "yes" if c.passed else "no", "severity": c.severity,
        "findings": "\n".join(f"{f.patient_name} ({f.mrn}): {f.reason}" if f.patient_name
                              else f.reason for f in c.findings[:50])
        + (f"\n… and {len(c.findings) - 50} more" if len(c.findings) > 50 else ""),
        "count": str(len(c.findings)),
    } for c in checks]


class MonthCloseState(SupervisorState):
    month: str = ""
    status: str = ""
    ended: bool = False
    closed_line: str = ""
    checks: list[dict[str, str]] = []
    checked: bool = False
    message: str = ""
    is_error: bool = False

    def _state(self, month_text: str) -> None:
        _user, practice = self._overseer()
        now = datetime.now(UTC)
        month = parse_month(month_text, this_month(practice, now).preceding())
        with session_scope() as session:
            state = month_state(session=session, practice=practice, month=month, now=now)
        self.month, self.status, self.ended = state.month, state.status, state.ended
        if state.status == "closed":
            when = (state.closed_at or "")[:16].replace("T", " ")
            self.closed_line = f"Closed by {state.closed_by} on {when}"
        else:
            reopened = state.reopened_reason
            self.closed_line = f"Open — reopened: {reopened}" if reopened else "Open"

    @rx.event
    def load(self) -> None:
        self.checks, self.checked, self.message = [], False, ""
        try:
            self._state(self.router.url.query_parameters.get("month", ""))
        except AccessDenied:
            return

    @rx.event
    def choose(self, form: dict[str, str]) -> None:
        self.checks, self.checked, self.message = [], False, ""
        self._state(form.get("month", ""))

    @rx.event
    def run_checks(self) -> None:
        user, practice = self._overseer()
        with session_scope() as session:
            checks = close_checks(session=session, practice=practice,
                                  month=parse_month(self.month, this_month(practice)),
                                  viewer=user, now=datetime.now(UTC))
        self.checks, self.checked = _check_rows(checks), True
        failing = sum(1 for c in checks if not c.passed and c.severity == "blocking")
        self.message = ("All blocking checks pass." if not failing else
                        f"{failing} blocking check(s) fail: fix them (review queue, patient "
                        "records) before closing.")
        self.is_error = bool(failing)

    @rx.event
    def close(self) -> None:
        user, practice = self._overseer()
        problem: MonthCloseError | None = None
        with session_scope() as session:  # a refusal's audit row is kept
            try:
                close_month(session=session, practice=practice,
                            month=parse_month(self.month, this_month(practice)), by=user,
                            now=datetime.now(UTC), client=self._client())
            except MonthCloseError as exc:
                problem = exc
        if problem is not None:
            self.message, self.is_error = str(problem), True
            if problem.checks:
                self.checks, self.checked = _check_rows(problem.checks), True
            return
        self._state(self.month)
        self.message = f"{self.month} is closed. Download the CSV and packets."
        self.is_error = False

    @rx.event
    def reopen(self, form: dict[str, str]) -> None:
        user, practice = self._overseer()
        try:
            with session_scope() as session:
                reopen_month(session=session, practice=practice,
                             month=parse_month(self.month, this_month(practice)), by=user,
                             reason=form.get("reason", ""), now=datetime.now(UTC),
                             client=self._client())
        except MonthCloseError as exc:
            self.message, self.is_error = str(exc), True
            return
        self._state(self.month)
        self.message, self.is_error = f"{self.month} is open again for corrections.", False


def _check(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(
            rx.cond(row["passed"] == "yes", rx.badge("passed", color_scheme="grass"),
                    rx.badge(rx.cond(row["severity"] == "blocking", "blocks close", "warning"),
                             color_scheme=rx.cond(row["severity"] == "blocking", "red",
                                                  "amber"))),
            rx.text(row["title"], weight="medium"), align="center", wrap="wrap"),
        rx.cond(row["count"] != "0", rx.text(row["findings"], size="1", white_space="pre-wrap")),
        spacing="1", width="100%"), width="100%", role="listitem")


@rx.page(route="/months", title="Month close · ccm_pwa",
         on_load=[AuthState.guard, MonthCloseState.load])
def month_close_page() -> rx.Component:
    csv = ("/api/v1/months/" + MonthCloseState.month + "/billing.csv"
           + MonthCloseState.practice_query)
    packets = ("/api/v1/months/" + MonthCloseState.month + "/packets.zip"
               + MonthCloseState.practice_query)
    every = "/api/v1/months/" + MonthCloseState.month + "/practices.zip"
    return app_shell(
        rx.heading("Month close", size="7", as_="h1"),
        practice_picker("/months"),
        rx.form(rx.flex(
            rx.el.label("Month", html_for="close-month", style={"fontWeight": 500}),
            rx.el.input(id="close-month", name="month", type="month",
                        default_value=MonthCloseState.month, key=MonthCloseState.month,
                        style={"minHeight": "44px", "fontSize": "16px"}),
            rx.button("Open month", type="submit", size="3"),
            gap="2", wrap="wrap", align="center"), on_submit=MonthCloseState.choose),
        rx.text(MonthCloseState.practice_name, aria_label="Practice shown", color_scheme="gray",
                margin_top="8px"),
        rx.text(MonthCloseState.month, " · ", MonthCloseState.closed_line,
                aria_label="Month status", weight="medium", margin_top="8px"),
        rx.cond(~MonthCloseState.ended,
                rx.text("This month has not ended yet; it can be checked, not closed.",
                        size="2", color_scheme="gray")),
        rx.cond(MonthCloseState.message != "",
                rx.callout(MonthCloseState.message,
                           role=rx.cond(MonthCloseState.is_error, "alert", "status"),
                           color_scheme=rx.cond(MonthCloseState.is_error, "red", "teal"))),
        rx.flex(
            rx.button("Run the checks", size="3", variant="soft", style=BIG,
                      on_click=MonthCloseState.run_checks),
            rx.cond((MonthCloseState.status != "closed") & MonthCloseState.ended,
                    rx.button("Close month", size="3", style=BIG, color_scheme="red",
                              on_click=MonthCloseState.close)),
            rx.link(rx.button("Billing CSV", size="3", variant="outline", style=BIG),
                    href=csv, is_external=True),
            rx.link(rx.button("Audit packets (zip)", size="3", variant="outline", style=BIG),
                    href=packets, is_external=True),
            rx.cond(MonthCloseState.practice_query != "",
                    rx.link(rx.button("All practices (zip)", size="3", variant="outline",
                                      style=BIG), href=every, is_external=True)),
            gap="2", wrap="wrap", margin_y="8px"),
        rx.cond(MonthCloseState.checked,
                rx.vstack(rx.foreach(MonthCloseState.checks, _check), width="100%",
                          spacing="2", role="list", aria_label="Close checks")),
        rx.cond(MonthCloseState.status == "closed", rx.form(rx.vstack(
            rx.heading("Reopen for corrections", size="4", as_="h2", margin_top="16px"),
            rx.el.label("Why reopen (kept in the audit log)", html_for="reopen-reason",
                        style={"fontWeight": 500}),
            rx.el.input(id="reopen-reason", name="reason", style=INPUT),
            rx.button("Reopen month", type="submit", size="3", variant="soft", style=BIG),
            spacing="2", max_width="480px"), on_submit=MonthCloseState.reopen)),
    )
