"""Care plan: every CMS element, edited one at a time (versioned), with the history."""

from __future__ import annotations

import reflex as rx

from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.styles import BIG, INPUT
from ccm_pwa.ui.field import (
    CONFLICTS,
    HISTORY,
    arg,
    field_runtime,
    js,
    patient_field,
    patient_list,
)
from ccm_pwa.ui.states.auth import AuthState


def _element(element: rx.Var[dict[str, str]]) -> rx.Component:
    element_id = "element-" + element["key"].to(str)
    return rx.card(rx.vstack(
        rx.el.label(element["label"], html_for=element_id,
                    style={"fontWeight": 600, "fontSize": "16px"}),
        rx.el.textarea(id=element_id, default_value=element["text"],
                       key=element["key"].to(str) + element["version"].to(str), rows=4,
                       style=INPUT),
        rx.hstack(
            rx.text(element["line"], size="1", color_scheme="gray"),
            rx.spacer(),
            rx.button("Save", size="2", style=BIG,
                      aria_label="Save " + element["label"].to(str),
                      on_click=js(f"window.ccmField.saveElement({arg(element['key'])}, "
                                  f"{arg(element['version'])})")),
            width="100%", align="center"),
        spacing="2", width="100%"), width="100%")


def _conflict(conflict: rx.Var[dict[str, str]]) -> rx.Component:
    """Both versions side by side; the care manager decides (checklist A7)."""
    def choice(label: str, keep: str) -> rx.Component:
        return rx.button(label, size="3", style=BIG, variant="solid" if keep == "mine" else "soft",
                         on_click=js(f"window.ccmField.resolveConflict({arg(conflict['id'])}, "
                                     f"{keep!r}, {arg(conflict['server_version'])})"))
    return rx.callout(rx.vstack(
        rx.text(rx.text.strong(conflict["label"]), ": changed on the server while you edited it"),
        rx.text(conflict["line"], size="1"),
        rx.text("Your version", weight="medium", size="2"),
        rx.text(conflict["mine"], size="2", white_space="pre-wrap"),
        rx.text("Current version", weight="medium", size="2"),
        rx.text(conflict["theirs"], size="2", white_space="pre-wrap"),
        rx.hstack(choice("Keep mine", "mine"), choice("Keep current", "theirs"), spacing="2",
                  wrap="wrap"),
        spacing="1", width="100%"),
        color_scheme="amber", role="group", aria_label="Conflict: " + conflict["label"].to(str),
        width="100%")


def _revision(revision: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.box(
        rx.text(rx.text.strong(revision["element"]), " · version ", revision["version"],
                size="2"),
        rx.text(revision["text"], size="2", white_space="pre-wrap"),
        rx.text(revision["line"], size="1", color_scheme="gray"),
        padding_y="6px", border_bottom="1px solid var(--gray-4)", width="100%")


@rx.page(route="/patients/[patient_id]/care-plan", title="Care plan · ccm_pwa",
         on_load=AuthState.guard)
def care_plan_page() -> rx.Component:
    patient_id = patient_field("id")
    return app_shell(
        field_runtime(view="care_plan"),
        rx.cond(patient_field("name") == "", rx.text("Loading…"), rx.vstack(
            rx.link("← " + patient_field("name"), href="/patients/" + patient_id),
            rx.heading("Care plan", size="7", as_="h1"),
            rx.text(patient_field("plan_line"), color_scheme="gray"),
            rx.button("Record monthly review", size="3", variant="soft", style=BIG,
                      on_click=js("window.ccmField.reviewPlan()")),
            rx.foreach(CONFLICTS.value, _conflict),
            rx.foreach(patient_list("elements"), _element),
            rx.card(rx.vstack(
                rx.heading("Copy to the patient", size="4", as_="h2"),
                rx.el.label("Copy given on", html_for="copy-date",
                            style={"fontWeight": 500}),
                rx.el.input(id="copy-date", type="date", style=INPUT),
                rx.el.label("How", html_for="copy-method", style={"fontWeight": 500}),
                rx.el.select(*[rx.el.option(m, value=m) for m in
                               ("in person", "mail", "portal", "email", "fax")],
                             id="copy-method", style=INPUT),
                rx.el.label("Next review", html_for="next-review", style={"fontWeight": 500}),
                rx.el.input(id="next-review", type="date", style=INPUT),
                rx.button("Save copy and review dates", size="3", style=BIG,
                          on_click=js("window.ccmField.saveCopyGiven()")),
                spacing="2", width="100%"), width="100%"),
            rx.heading("Version history", size="4", as_="h2", margin_top="8px"),
            rx.vstack(rx.foreach(HISTORY.value, _revision), width="100%", role="list",
                      aria_label="Version history"),
            spacing="3", width="100%",
        )),
    )
