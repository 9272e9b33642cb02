"""One patient: header, this month's progress, time entries, notes, tasks, enrollment."""

from __future__ import annotations

import reflex as rx

from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.styles import BIG, INPUT
from ccm_pwa.ui.components.timer import activity_select
from ccm_pwa.ui.field import (
    PATIENT,
    arg,
    field_runtime,
    js,
    minutes_bar,
    patient_field,
    patient_list,
)
from ccm_pwa.ui.pages.enrollment import enrollment_section
from ccm_pwa.ui.states.auth import AuthState


def labelled(label: str, control: rx.Component, element_id: str) -> rx.Component:
    return rx.vstack(rx.el.label(label, html_for=element_id, style={"fontWeight": 500}),
                     control, spacing="1", width="100%")


def _entry(entry: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text(rx.text.strong(entry["minutes"]), " · ", entry["when"], size="2"),
                  rx.spacer(), rx.text(entry["by"], size="1", color_scheme="gray"),
                  width="100%"),
        rx.text(entry["activity"], size="2", weight="medium"),
        rx.cond(entry["note"] != "", rx.text(entry["note"], size="2")),
        rx.cond(entry["state"] != "", rx.text(entry["state"], size="1", color_scheme="amber")),
        rx.cond(entry["voided"] == "no",
                rx.button("Void entry", size="2", variant="ghost", color_scheme="red",
                          on_click=js(f"window.ccmField.voidEntry({arg(entry['id'])})"))),
        spacing="1", width="100%"), width="100%", role="listitem")


def _task(task: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.hstack(
        rx.vstack(rx.text(task["title"], weight="medium"),
                  rx.text(task["line"], size="1",
                          color_scheme=rx.cond(task["overdue"] == "yes", "red", "gray")),
                  spacing="0"),
        rx.spacer(),
        rx.button("Done", size="2", variant="soft", style=BIG,
                  on_click=js(f"window.ccmField.completeTask({arg(task['id'])})")),
        width="100%", align="center")


def _note(note: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.box(rx.text(note["body"], size="2"),
                  rx.text(note["line"], size="1", color_scheme="gray"), padding_y="4px")


def progress_card() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading("This month", size="4", as_="h2"),
        minutes_bar(minutes=patient_field("minutes"), marks=patient_field("marks")),
        rx.text(rx.text.strong(patient_field("minutes"), " min"), " · codes reached: ",
                patient_field("codes"), aria_label="Progress this month"),
        rx.text(patient_field("next"), size="2"),
        rx.cond(patient_field("pending") != "",
                rx.text(patient_field("pending"), size="2", color_scheme="amber",
                        aria_label="Waiting to sync")),
        rx.cond(patient_field("blocking") != "",
                rx.callout(patient_field("blocking"), color_scheme="amber", role="status")),
        rx.cond(patient_field("last_month") != "",
                rx.text("Last month: ", patient_field("last_month"), size="1",
                        color_scheme="gray")),
        spacing="2", width="100%"), width="100%")


def manual_entry() -> rx.Component:
    return rx.el.details(
        rx.el.summary("Add time by hand", style={"minHeight": "44px", "cursor": "pointer",
                                                 "fontWeight": 500, "padding": "10px 0"}),
        rx.vstack(
            labelled("Date", rx.el.input(id="manual-date", type="date", style=INPUT),
                     "manual-date"),
            labelled("Start time", rx.el.input(id="manual-time", type="time", style=INPUT),
                     "manual-time"),
            labelled("Minutes", rx.el.input(id="manual-minutes", type="number", min="1",
                                            style=INPUT), "manual-minutes"),
            activity_select("manual-activity"),
            labelled("Note", rx.el.textarea(id="manual-note", rows=2, style=INPUT),
                     "manual-note"),
            rx.text("Entries added by hand are marked as manual for the audit trail.",
                    size="1", color_scheme="gray"),
            rx.button("Add entry", size="3", style=BIG,
                      on_click=js("window.ccmField.saveManualEntry()")),
            spacing="2", width="100%"),
    )


@rx.page(route="/patients/[patient_id]", title="Patient · ccm_pwa", on_load=AuthState.guard)
def patient_page() -> rx.Component:
    patient_id = patient_field("id")
    return app_shell(
        field_runtime(view="patient"),
        rx.match(
            PATIENT.value["missing"].to(str),
            ("yes", rx.callout("This patient is not on your caseload, or does not exist.",
                               color_scheme="red", role="alert")),
            ("offline", rx.callout("This patient's record is not on this phone (only enrolled "
                                   "patients on your worklist are). Connect to open it.",
                                   color_scheme="amber", role="alert")),
            rx.fragment(),
        ),
        rx.cond(patient_field("name") == "", rx.text("Loading…"), rx.vstack(
            rx.heading(patient_field("name"), size="7", as_="h1"),
            rx.cond(patient_field("practice") != "",
                    rx.badge(patient_field("practice"), size="2", variant="surface")),
            rx.text(patient_field("summary"), color_scheme="gray"),
            rx.text(patient_field("conditions"), size="2"),
            rx.text(patient_field("consent"), " · Billing practitioner: ",
                    patient_field("practitioner"), size="2", color_scheme="gray"),
            rx.hstack(
                rx.button("Start call timer", size="3", style=BIG,
                          on_click=js("window.ccmField.startTimerHere()")),
                rx.cond(patient_field("tel") != "", rx.button(
                    rx.link("Call", href=patient_field("tel")), as_child=True, size="3",
                    variant="soft", style=BIG)),
                rx.button(rx.link("Care plan", href="/patients/" + patient_id + "/care-plan"),
                          as_child=True, size="3", variant="outline", style=BIG),
                wrap="wrap", spacing="2"),
            rx.cond(patient_field("enrolled") == "yes", progress_card(),
                    enrollment_section()),
            rx.heading("Tasks", size="4", as_="h2", margin_top="8px"),
            rx.cond(patient_list("tasks").length() > 0,
                    rx.vstack(rx.foreach(patient_list("tasks"), _task), width="100%"),
                    rx.text("No open tasks.", size="2", color_scheme="gray")),
            rx.heading("Time this month", size="4", as_="h2", margin_top="8px"),
            rx.cond(patient_list("entries").length() > 0,
                    rx.vstack(rx.foreach(patient_list("entries"), _entry), width="100%",
                              role="list", aria_label="Time entries"),
                    rx.text("No time recorded this month yet. Start the call timer or add "
                            "time by hand.", size="2", color_scheme="gray")),
            manual_entry(),
            rx.heading("Notes", size="4", as_="h2", margin_top="8px"),
            labelled("New note", rx.el.textarea(id="note-body", rows=3, style=INPUT),
                     "note-body"),
            rx.button("Add note", size="3", style=BIG,
                      on_click=js("window.ccmField.addNote()")),
            rx.foreach(patient_list("notes"), _note),
            rx.cond(patient_field("enrolled") == "yes",
                    rx.button("End enrollment…", size="2", variant="ghost", color_scheme="red",
                              margin_top="16px",
                              on_click=js("window.ccmField.unenroll()"))),
            spacing="3", width="100%",
        )),
    )
