"""Team today (supervisor): one card per care manager, and her worklist as she sees it."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.services.team_scope import require_team_member
from ccm_pwa.services.team_today import care_manager_worklist, team_today
from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.practice_picker import practice_picker
from ccm_pwa.ui.states.auth import AuthState
from ccm_pwa.ui.states.supervisor import SupervisorState, dollars, this_month


def _when(iso: str | None) -> str:
    return iso.replace("T", " ")[:16] if iso else "no activity yet"


class TeamState(SupervisorState):
    month: str = ""
    rows: list[dict[str, str]] = []

    @rx.event
    def load(self) -> None:
        self.rows = []
        try:
            user, practice = self._overseer()
        except AccessDenied:
            return
        now = datetime.now(UTC)
        month = this_month(practice, now)
        with session_scope() as session:
            rows = team_today(session=session, viewer=user, month=month, now=now)
        self.month = str(month)
        self.rows = [{
            "id": r.care_manager_id or "", "name": r.name + (f", {r.credential}"
                                                             if r.credential else ""),
            "enrolled": str(r.enrolled_patients), "billable": str(r.billable_patients),
            "thresholds": f"{r.at_base_code} / {r.at_first_add_on} / {r.at_second_add_on}",
            "at_risk": str(r.at_risk_patients), "blocked": str(r.blocked_patients),
            "week": str(r.minutes_this_week), "review": str(r.review_items),
            "amount": dollars(r.expected_amount_cents), "last": _when(r.last_activity_at),
            "href": f"/team/{r.care_manager_id}" if r.care_manager_id else "",
            "active": "yes" if r.active else "no",
        } for r in rows]


def _figure(label: str, value: rx.Var, colour: str = "gray") -> rx.Component:
    return rx.vstack(rx.text(value, size="5", weight="bold", color_scheme=colour),
                     rx.text(label, size="1", color_scheme="gray"), spacing="0",
                     min_width="5.5rem")


def _card(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(
            rx.cond(row["href"] != "", rx.link(rx.heading(row["name"], size="4", as_="h2"),
                                               href=row["href"]),
                    rx.heading(row["name"], size="4", as_="h2")),
            rx.spacer(),
            rx.cond(row["active"] == "no", rx.badge("deactivated", color_scheme="gray")),
            width="100%", align="center"),
        rx.flex(
            _figure("enrolled", row["enrolled"]),
            _figure("billable now", row["billable"], "grass"),
            _figure("at risk", row["at_risk"], "amber"),
            _figure("blocked", row["blocked"]),
            _figure("min this week", row["week"]),
            _figure("to review", row["review"], "red"),
            wrap="wrap", gap="3"),
        rx.text("At 1st / 2nd / 3rd threshold: ", row["thresholds"], " · expected ",
                row["amount"], size="2"),
        rx.text("Last activity ", row["last"], size="1", color_scheme="gray"),
        rx.cond(row["href"] != "", rx.link("Open worklist", href=row["href"], size="2")),
        spacing="2", width="100%"), width="100%", role="listitem")


@rx.page(route="/team", title="Team · ccm_pwa", on_load=[AuthState.guard, TeamState.load])
def team_page() -> rx.Component:
    return app_shell(
        rx.heading("Team today", size="7", as_="h1"),
        practice_picker("/team"),
        rx.text(TeamState.practice_name, " · ", TeamState.month,
                " · thresholds, risk (pace projection) and what needs review",
                color_scheme="gray"),
        rx.grid(rx.foreach(TeamState.rows, _card), columns=rx.breakpoints(initial="1", md="2"),
                gap="3", width="100%", margin_top="12px", role="list", aria_label="Team"),
    )


class MemberWorklistState(SupervisorState):
    member: str = ""
    month: str = ""
    patients: list[dict[str, str]] = []
    missing: bool = False

    @rx.event
    def load(self) -> None:
        self.patients, self.missing = [], False
        try:
            user, _practice = self._overseer()
        except AccessDenied:
            return
        member_id = self.router.page.params.get("care_manager_id", "")
        try:
            with session_scope() as session:
                member = require_team_member(session=session, viewer=user,
                                             user_id=str(member_id))
                self.member = member.name
                body = care_manager_worklist(session=session, viewer=user,
                                             care_manager_id=str(member_id), month=None,
                                             now=datetime.now(UTC), client=self._client())
        except (AccessDenied, ValueError):
            self.missing = True
            return
        self.month = f"{body['month']} · {body['days_left']} days left"
        self.patients = [{
            "name": p["name"], "conditions": p.get("conditions", ""),
            "minutes": str(p["minutes"]), "status": p["status"].replace("_", " "),
            "next": (f"{p['minutes_to_next']} min to {p['next_code']}" if p.get("next_code")
                     else "done for this month"),
            "why": " · ".join(p.get("why", [])),
        } for p in body["patients"]]


def _patient(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.box(
        rx.hstack(rx.text(row["name"], weight="medium"), rx.spacer(),
                  rx.badge(row["status"]), width="100%"),
        rx.text(row["minutes"], " min · ", row["next"], size="2"),
        rx.text(row["conditions"], size="1", color_scheme="gray"),
        rx.cond(row["why"] != "", rx.text(row["why"], size="1", color_scheme="amber")),
        padding_y="8px", border_bottom="1px solid var(--gray-4)", role="listitem")


@rx.page(route="/team/[care_manager_id]", title="Worklist · ccm_pwa",
         on_load=[AuthState.guard, MemberWorklistState.load])
def member_worklist_page() -> rx.Component:
    return app_shell(
        rx.link("← Team", href="/team"),
        rx.heading("Worklist as she sees it", size="6", as_="h1"),
        rx.text(MemberWorklistState.member, " · ", MemberWorklistState.month,
                color_scheme="gray"),
        rx.cond(MemberWorklistState.missing,
                rx.callout("Not a member of your team.", color_scheme="red", role="alert")),
        rx.vstack(rx.foreach(MemberWorklistState.patients, _patient), spacing="0",
                  width="100%", role="list", aria_label="Worklist"),
    )
