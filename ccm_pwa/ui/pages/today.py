"""Today: the care manager's enrolled patients, most urgent first (domain/worklist.py).

Rendered from the field kit's client state, so it also works from the phone's local data.
"""

from __future__ import annotations

import reflex as rx

from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.field import (
    CANDIDATES,
    ROWS,
    WORKLIST_INFO,
    arg,
    field_runtime,
    js,
    minutes_bar,
)
from ccm_pwa.ui.states.auth import AuthState

FILTERS = [("all", "All"), ("needs_minutes", "Needs minutes"), ("tasks_due", "Tasks due"),
           ("done", "Done this month")]
STATUS_COLOURS = {"billable": "grass", "on_track": "teal", "at_risk": "amber", "blocked": "gray",
                  "missed": "red"}
STATUS_WORDS = {"billable": "Done", "on_track": "On track", "at_risk": "At risk",
                "blocked": "Blocked", "missed": "Missed"}


def _status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.match(
        status,
        *[(key, rx.badge(STATUS_WORDS[key], color_scheme=colour, size="2"))
          for key, colour in STATUS_COLOURS.items()],
        rx.badge(status, size="2"),
    )


def _patient_card(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.link(rx.heading(row["name"], size="4", as_="h2"), href=row["href"]),
                rx.spacer(),
                _status_badge(row["status"]),
                width="100%", align="center",
            ),
            # Only for someone working several practices: which one the patient is of.
            rx.cond(row["practice"] != "",
                    rx.badge(row["practice"], size="1", variant="surface",
                             aria_label="Practice " + row["practice"].to(str))),
            rx.text(row["conditions"], size="2", color_scheme="gray"),
            minutes_bar(minutes=row["minutes"], marks=row["marks"],
                        label=row["name"].to(str) + " minutes this month"),
            rx.hstack(
                rx.text(rx.text.strong(row["minutes"]), " min · ", row["next"], size="2"),
                width="100%",
            ),
            rx.cond(row["pending"] != "",
                    rx.text(row["pending"], size="1", color_scheme="amber")),
            rx.cond(row["why"] != "", rx.text(row["why"], size="2", color_scheme="amber")),
            rx.hstack(
                rx.cond(
                    row["tel"] != "",
                    rx.button(
                        rx.link("Call and start timer", href=row["tel"],
                                on_click=js(f"window.ccmField.startTimer({arg(row['id'])}, "
                                            f"{arg(row['name'])})")),
                        as_child=True, size="3", style={"minHeight": "44px"}),
                ),
                rx.button("Start call timer", size="3", variant="soft",
                          style={"minHeight": "44px"},
                          aria_label="Start call timer for " + row["name"].to(str),
                          on_click=js(f"window.ccmField.startTimer({arg(row['id'])}, "
                                      f"{arg(row['name'])})")),
                wrap="wrap", spacing="2",
            ),
            spacing="2", width="100%",
        ),
        width="100%", role="listitem",
    )


def _candidate(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.box(
        rx.link(row["name"], href=row["href"], size="3", weight="medium"),
        rx.text(rx.cond(row["practice"] != "", row["practice"].to(str) + " · ", ""),
                "MRN ", row["mrn"], " · ", row["conditions"], size="2", color_scheme="gray"),
        rx.text(row["line"], size="2",
                color_scheme=rx.cond(row["eligible"] == "yes", "teal", "gray")),
        padding_y="8px", border_bottom="1px solid var(--gray-4)", role="listitem")


def _filter_button(key: str, label: str) -> rx.Component:
    return rx.button(label, size="2", style={"minHeight": "44px"},
                     variant=rx.cond(WORKLIST_INFO.value["filter"].to(str) == key, "solid",
                                     "outline"),
                     on_click=js(f"window.ccmField.setFilter({key!r})"))


@rx.page(route="/", title="Today · ccm_pwa", on_load=AuthState.guard)
def today_page() -> rx.Component:
    info = WORKLIST_INFO.value
    return app_shell(
        field_runtime(view="worklist"),
        rx.heading("Today", size="7", as_="h1"),
        rx.cond(info["loaded"].to(str) == "yes",
                rx.cond(info["practices"].to(str) != "",
                        rx.text(info["practices"].to(str), color_scheme="gray"),
                        rx.text(info["month"].to(str), " · ", info["days_left"].to(str),
                                " days left in the month", color_scheme="gray"))),
        rx.el.input(type="search", placeholder="Search by name or MRN", aria_label="Search",
                    on_change=rx.Var("((ev) => window.ccmField.setSearch(ev.target.value))")
                    .to(rx.vars.FunctionVar, rx.EventChain),
                    style={"width": "100%", "minHeight": "44px", "fontSize": "16px",
                           "padding": "8px 12px", "margin": "12px 0", "borderRadius": "8px",
                           "border": "1px solid var(--gray-7)"}),
        rx.hstack(*[_filter_button(key, label) for key, label in FILTERS], wrap="wrap",
                  spacing="2", role="group", aria_label="Filter"),
        rx.cond(info["loaded"].to(str) == "yes",
                rx.text(info["count"].to(str), " of ", info["total"].to(str), " patients",
                        size="2", color_scheme="gray", margin_top="8px"),
                rx.text("Loading your patients…", size="2", margin_top="8px")),
        rx.vstack(rx.foreach(ROWS.value, _patient_card), spacing="3", width="100%",
                  margin_top="8px", role="list", aria_label="Worklist"),
        rx.cond(info["more"].to(str) != "0",
                rx.button("Show ", info["more"].to(str), " more", size="3", variant="soft",
                          width="100%", margin_top="8px", style={"minHeight": "44px"},
                          on_click=js("window.ccmField.showMore()"))),
        rx.cond((info["loaded"].to(str) == "yes") & (ROWS.value.length() == 0),
                rx.callout("No patients match. Clear the search or pick another filter.",
                           margin_top="12px")),
        rx.cond(CANDIDATES.value.length() > 0, rx.el.details(
            rx.el.summary("Not enrolled yet (", CANDIDATES.value.length().to(str), ")",
                          style={"minHeight": "44px", "padding": "12px 0", "cursor": "pointer",
                                 "fontWeight": 600}),
            rx.vstack(rx.foreach(CANDIDATES.value, _candidate), spacing="0", width="100%",
                      role="list", aria_label="Not enrolled yet"),
            margin_top="16px")),
    )
