"""Review queue (supervisor): flagged time entries to accept or void with a reason, and the
sync rejections and care-plan conflicts her team should know about. Decisions are audited."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.services.review_queue import ReviewError, decide, review_queue
from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.practice_picker import practice_picker
from ccm_pwa.ui.components.styles import BIG, INPUT
from ccm_pwa.ui.states.auth import AuthState
from ccm_pwa.ui.states.supervisor import SupervisorState

KIND_WORDS = {"time_entry": "Time entry", "rejected_mutation": "Not accepted from a phone",
              "care_plan_conflict": "Care-plan conflict"}


class ReviewState(SupervisorState):
    items: list[dict[str, str]] = []
    message: str = ""
    is_error: bool = False

    def _refresh(self) -> None:
        user, _practice = self._overseer()
        with session_scope() as session:
            items = review_queue(session=session, viewer=user, now=datetime.now(UTC),
                                 client=self._client())
        self.items = [{
            "id": i.id, "kind": KIND_WORDS.get(i.kind, i.kind),
            "patient": f"{i.patient_name} ({i.mrn})" if i.patient_name else "",
            "person": i.person or i.care_manager, "detail": i.detail,
            "when": (i.started_at or i.received_at or "").replace("T", " ")[:16],
            "minutes": f"{i.minutes:.0f} min" if i.minutes is not None else "",
            "month": (i.month or "") + (" (closed)" if i.month_closed else ""),
            "decidable": "yes" if i.decidable else "no",
        } for i in items]

    @rx.event
    def load(self) -> None:
        self.items, self.message = [], ""
        try:
            self._refresh()
        except AccessDenied:
            return

    @rx.event
    def record(self, form: dict[str, str]) -> None:
        user, _practice = self._overseer()
        decision = form.get("decision") or "accept"  # the radio group's default
        try:
            with session_scope() as session:
                decide(session=session, viewer=user, entry_id=form.get("entry_id", ""),
                       decision=decision, reason=form.get("reason", ""),
                       now=datetime.now(UTC), client=self._client())
        except ReviewError as exc:
            self.message, self.is_error = str(exc), True
            return
        except AccessDenied:
            self._record_denial(user, None, "review entry outside the team")
            raise
        self.message = ("Accepted." if decision == "accept"
                        else "Voided; the minutes no longer count.")
        self.is_error = False
        self._refresh()


def _decision_form(item: rx.Var[dict[str, str]]) -> rx.Component:
    reason_id = "reason-" + item["id"].to(str)
    return rx.form(
        rx.el.input(type="hidden", name="entry_id", value=item["id"]),
        rx.vstack(
            rx.el.label("Reason (required to void)", html_for=reason_id,
                        style={"fontWeight": 500, "fontSize": "14px"}),
            rx.el.input(id=reason_id, name="reason", style=INPUT),
            rx.radio_group.root(
                rx.flex(
                    rx.el.label(rx.radio_group.item(value="accept"), " Accept",
                                style={"display": "flex", "gap": "6px", "alignItems": "center",
                                       "minHeight": "44px"}),
                    rx.el.label(rx.radio_group.item(value="void"), " Void",
                                style={"display": "flex", "gap": "6px", "alignItems": "center",
                                       "minHeight": "44px"}),
                    gap="4"),
                name="decision", default_value="accept", aria_label="Decision"),
            rx.button("Record decision", type="submit", size="3", style=BIG),
            spacing="2", width="100%"),
        on_submit=ReviewState.record, reset_on_submit=True, width="100%")


def _item(item: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.badge(item["kind"]), rx.spacer(),
                  rx.text(item["month"], size="1", color_scheme="gray"), width="100%"),
        rx.text(item["patient"], weight="bold"),
        rx.text(item["person"], " · ", item["when"], " · ", item["minutes"], size="2"),
        rx.text(item["detail"], size="2", color_scheme="amber"),
        rx.cond(item["decidable"] == "yes", _decision_form(item)),
        spacing="1", width="100%"), width="100%", role="listitem")


@rx.page(route="/review", title="Review · ccm_pwa",
         on_load=[AuthState.guard, ReviewState.load])
def review_page() -> rx.Component:
    return app_shell(
        rx.heading("Review queue", size="7", as_="h1"),
        practice_picker("/review"),
        rx.text(ReviewState.practice_name, weight="medium"),
        rx.text("Entries over 90 minutes, overlapping entries of one person, backdated manual "
                "entries, clock-skewed or late phone entries, refused changes and care-plan "
                "conflicts, this month and last.", size="2", color_scheme="gray"),
        rx.cond(ReviewState.message != "",
                rx.callout(ReviewState.message, role=rx.cond(ReviewState.is_error, "alert",
                                                             "status"),
                           color_scheme=rx.cond(ReviewState.is_error, "red", "teal"))),
        rx.text(ReviewState.items.length().to(str), " items", size="2", margin_top="8px"),
        rx.vstack(rx.foreach(ReviewState.items, _item), spacing="3", width="100%",
                  role="list", aria_label="Review queue"),
    )
