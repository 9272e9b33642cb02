"""The call timer's sticky bar (on every signed-in screen) and its stop form."""

from __future__ import annotations

import reflex as rx

from ccm_pwa.models import Activity
from ccm_pwa.ui.field import (
    CONFLICT_COUNT,
    NOTICE,
    PENDING,
    REJECTIONS,
    STOP_FORM,
    SYNC,
    SYNC_ERROR,
    TIMER,
    elapsed_timer,
    js,
)

ACTIVITY_LABELS = {
    Activity.PHONE_CALL_PATIENT: "Phone call with patient",
    Activity.PHONE_CALL_CAREGIVER: "Phone call with caregiver",
    Activity.CARE_COORDINATION: "Care coordination",
    Activity.MEDICATION_RECONCILIATION: "Medication reconciliation",
    Activity.RECORDS_REVIEW: "Record / results review",
    Activity.CARE_PLAN_REVISION: "Care plan revision",
    Activity.TRANSITION_FOLLOW_UP: "Transition follow-up",
    Activity.COMMUNITY_SERVICES: "Community services",
}
BIG = {"min_height": "44px"}


def activity_select(element_id: str, label: str = "Activity") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=element_id, style={"fontWeight": 500}),
        rx.el.select(
            *[rx.el.option(text, value=value.value) for value, text in ACTIVITY_LABELS.items()],
            id=element_id, style={"minHeight": "44px", "width": "100%", "padding": "8px",
                                  "fontSize": "16px", "borderRadius": "8px"},
        ),
        spacing="1", width="100%",
    )


def timer_bar() -> rx.Component:
    timer = TIMER.value
    return rx.cond(
        timer["running"].to(str) == "yes",
        rx.hstack(
            rx.vstack(
                rx.text("Call timer · ", timer["patient_name"].to(str), size="2",
                        weight="medium"),
                elapsed_timer(started_at=timer["started_at"].to(str)),
                spacing="0",
            ),
            rx.spacer(),
            rx.button("Stop call timer", on_click=js("window.ccmField.openStopForm()"),
                      size="3", color_scheme="red", style=BIG),
            position="sticky", top="0", z_index="20", width="100%", padding="10px 16px",
            background="var(--red-3)", border_bottom="1px solid var(--red-6)", align="center",
            role="region", aria_label="Running call timer",
        ),
    )


def stop_form() -> rx.Component:
    form = STOP_FORM.value
    return rx.cond(
        form["open"].to(str) == "yes",
        rx.box(
            rx.vstack(
                rx.heading("Save call time", size="5", as_="h2"),
                rx.text(form["patient_name"].to(str), " · timer ran ",
                        form["elapsed"].to(str)),
                activity_select("stop-activity"),
                rx.vstack(
                    rx.el.label("Minutes", html_for="stop-minutes", style={"fontWeight": 500}),
                    rx.el.input(id="stop-minutes", type="number", min="1",
                                default_value=form["minutes"].to(str), key=form["seconds"],
                                style={"minHeight": "44px", "width": "8rem", "fontSize": "16px",
                                       "padding": "8px"}),
                    rx.text("Change only if the timer did not match the call; a changed "
                            "duration is saved as a manual entry.", size="1",
                            color_scheme="gray"),
                    spacing="1", width="100%",
                ),
                rx.cond(
                    form["long"].to(str) == "yes",
                    rx.callout(rx.el.label(
                        rx.el.input(type="checkbox", id="stop-confirm-long",
                                    style={"width": "24px", "height": "24px"}),
                        " The timer ran over 90 minutes. Yes, the call really lasted that long.",
                        html_for="stop-confirm-long"), color_scheme="amber", role="alert"),
                ),
                rx.vstack(
                    rx.el.label("Note", html_for="stop-note", style={"fontWeight": 500}),
                    rx.el.textarea(id="stop-note", rows=3, placeholder="What was done or agreed",
                                   style={"width": "100%", "fontSize": "16px",
                                          "padding": "8px"}),
                    spacing="1", width="100%",
                ),
                rx.hstack(
                    rx.button("Save time", on_click=js("window.ccmField.saveTimer()"),
                              size="3", style=BIG),
                    rx.button("Keep timing", on_click=js("window.ccmField.closeStopForm()"),
                              size="3", variant="soft", style=BIG),
                    rx.button("Discard", on_click=js("window.ccmField.discardTimer()"),
                              size="3", variant="ghost", color_scheme="red", style=BIG),
                    wrap="wrap", spacing="3",
                ),
                spacing="3", width="100%", max_width="560px", margin="0 auto",
            ),
            position="fixed", left="0", right="0", bottom="0", z_index="30",
            padding="16px", background="var(--color-panel-solid)",
            border_top="2px solid var(--accent-8)", box_shadow="0 -8px 24px rgba(0,0,0,.2)",
            role="dialog", aria_label="Save call time", max_height="90vh", overflow_y="auto",
        ),
    )


def _rejection(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.el.li(row["line"], style={"marginLeft": "1em"})


def status_strip() -> rx.Component:
    """Messages from the field kit: saved, not accepted (why), conflicts, changes waiting."""
    return rx.fragment(
        rx.cond(NOTICE.value != "", rx.callout(
            rx.hstack(rx.text(NOTICE.value), rx.spacer(),
                      rx.button("OK", size="1", variant="soft",
                                on_click=js("window.ccmField.dismissNotice()")),
                      width="100%", align="center"),
            role="status", margin_bottom="12px")),
        rx.cond(REJECTIONS.value.length() > 0, rx.callout(
            rx.vstack(
                rx.text("Not accepted by the server", weight="bold"),
                rx.el.ul(rx.foreach(REJECTIONS.value, _rejection)),
                rx.button("I have seen these", size="2", variant="soft",
                          style={"minHeight": "44px"},
                          on_click=js("window.ccmField.dismissRejections()")),
                spacing="2"),
            color_scheme="red", role="alert", margin_bottom="12px",
            aria_label="Not accepted by the server")),
        rx.cond(CONFLICT_COUNT.value > 0, rx.callout(
            rx.text(CONFLICT_COUNT.value.to(str), " care-plan change(s) conflict with a newer "
                    "version: open the patient's care plan to choose which to keep."),
            color_scheme="amber", role="status", margin_bottom="12px")),
        rx.cond(SYNC_ERROR.value != "", rx.callout(SYNC_ERROR.value, color_scheme="amber",
                                                   role="status", margin_bottom="12px")),
        rx.cond(SYNC.value["error"].to(str) != "", rx.callout(
            SYNC.value["error"].to(str), color_scheme="amber", role="status",
            margin_bottom="12px")),
        rx.cond(PENDING.value > 0, rx.text(PENDING.value.to(str), " change(s) waiting to be "
                                           "sent", size="2", color_scheme="amber",
                                           aria_label="Changes waiting")),
    )
