"""Enrollment and consent: why a patient is (not) eligible, and the CMS consent record."""

from __future__ import annotations

import reflex as rx

from ccm_pwa.ui.components.styles import INPUT
from ccm_pwa.ui.field import js, patient_field

DISCLOSURES = [
    ("disclosed-service", "What CCM is, and that it is available to them"),
    ("disclosed-cost", "That cost sharing (coinsurance, deductible) applies"),
    ("disclosed-one", "That only one practitioner can furnish and bill CCM each month"),
    ("disclosed-stop", "That they may stop at any time, effective at the end of the month"),
]


def _checkbox(element_id: str, text: str) -> rx.Component:
    return rx.el.label(
        rx.el.input(type="checkbox", id=element_id,
                    style={"width": "24px", "height": "24px", "flexShrink": 0}),
        rx.text(text, size="2"),
        html_for=element_id,
        style={"display": "flex", "gap": "10px", "alignItems": "center", "minHeight": "44px"},
    )


def _select(element_id: str, label: str, options: list[tuple[str, str]],
            **initial: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=element_id, style={"fontWeight": 500}),
        rx.el.select(*[rx.el.option(text, value=value) for value, text in options],
                     id=element_id, style=INPUT, **initial),
        spacing="1", width="100%")


def enrollment_section() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading("Enroll in care management", size="4", as_="h2"),
        rx.text(patient_field("eligibility"), size="2"),
        rx.cond(
            patient_field("eligible") == "yes",
            rx.vstack(
                # Starts on the program the eligibility line was judged for (a one-condition
                # patient is eligible for PCM only); a new patient on screen starts afresh.
                _select("enroll-program", "Program", [("ccm", "CCM"),
                                                      ("complex_ccm", "Complex CCM"),
                                                      ("pcm", "PCM (one serious condition)")],
                        default_value=patient_field("program"),
                        key=patient_field("id") + patient_field("program")),
                rx.vstack(rx.el.label("Consent date", html_for="consent-date",
                                      style={"fontWeight": 500}),
                          rx.el.input(id="consent-date", type="date", style=INPUT),
                          spacing="1", width="100%"),
                _select("consent-method", "Consent was", [("verbal", "Verbal"),
                                                          ("written", "Written")]),
                rx.text("The patient was told:", weight="medium", size="2"),
                *[_checkbox(element_id, text) for element_id, text in DISCLOSURES],
                rx.text("Billing practitioner: ", patient_field("practitioner"), size="2"),
                rx.button("Record consent and enroll", size="3", style={"minHeight": "44px"},
                          on_click=js("window.ccmField.enroll()")),
                spacing="2", width="100%"),
            rx.callout("Not eligible yet: CCM needs two or more chronic conditions on the "
                       "problem list (PCM one).", color_scheme="amber"),
        ),
        spacing="2", width="100%"), width="100%")
