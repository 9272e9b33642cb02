"""Which practice a supervisor screen shows, for someone overseeing several practices.

Plain links (`?practice=<id>`), a full page load each: the screen's on_load reads the
choice on the server (ui/states/supervisor.py) and every other supervisor screen keeps it.
"""

from __future__ import annotations

import reflex as rx

from ccm_pwa.ui.states.supervisor import SupervisorState


def practice_picker(path: str) -> rx.Component:
    """Nothing for someone overseeing one practice; else one link per practice."""
    def choice(item: rx.Var[list[str]]) -> rx.Component:
        chosen = item[1] == SupervisorState.practice_name
        return rx.el.a(
            rx.badge(item[1], size="3", variant=rx.cond(chosen, "solid", "outline"),
                     color_scheme="teal"),
            href=f"{path}?practice=" + item[0],
            aria_current=rx.cond(chosen, "page", "false"),
            style={"minHeight": "44px", "display": "inline-flex", "alignItems": "center"})

    return rx.cond(
        SupervisorState.practices.length() > 0,
        rx.el.nav(rx.hstack(rx.text("Practice:", size="2", color_scheme="gray"),
                            rx.foreach(SupervisorState.practices, choice),
                            spacing="2", wrap="wrap", align="center"),
                  aria_label="Practice"),
    )
