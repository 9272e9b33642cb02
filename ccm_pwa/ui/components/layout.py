"""The frame of every signed-in screen: top bar with who is signed in, navigation, sign-out."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars.base import Var
from reflex_base.vars.function import FunctionVar

from ccm_pwa.ui.components.native_form import native_form
from ccm_pwa.ui.components.timer import status_strip, stop_form, timer_bar
from ccm_pwa.ui.field import ME, js
from ccm_pwa.ui.states.auth import AuthState

SIGN_OUT_ACTION = "/api/v1/session/sign-out"


def sign_out_button() -> rx.Component:
    """A plain form POST (works with the websocket down). On screens with the field kit
    loaded, the kit first sends queued changes and erases the phone's field database; the
    response's Clear-Site-Data header then wipes cookies, storage and caches."""
    return native_form(
        rx.button("Sign out", type="button", variant="soft", color_scheme="gray", size="2",
                  style={"minHeight": "44px"},
                  on_click=Var("(() => { const form = document.getElementById('sign-out'); "
                               "if (window.ccmField) { window.ccmField.signOut(form); } "
                               "else { form.submit(); } })").to(FunctionVar, rx.EventChain)),
        action=SIGN_OUT_ACTION, method="post", id="sign-out",
    )


def lock_button() -> rx.Component:
    """Lock now (handing the phone to a patient, leaving it on a desk): the field kit drops
    the store's key and shows the PIN screen (assets/field/lock.js). Screens without the kit
    have nothing on the phone to lock, so the button is a no-op there."""
    return rx.button("Lock app", type="button", variant="soft", color_scheme="teal", size="2",
                     style={"minHeight": "44px"},
                     on_click=js("window.ccmField && window.ccmField.lock()"))


def _nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="3", weight="medium", padding_y="8px")


def navigation() -> rx.Component:
    oversees = AuthState.overseen > 0  # here or in another practice of her organisation
    return rx.el.nav(rx.hstack(
        _nav_link("Today", "/"),
        rx.cond(AuthState.overseen > 1, _nav_link("All practices", "/organisation")),
        rx.cond(oversees, _nav_link("Team", "/team")),
        rx.cond(oversees, _nav_link("Program", "/program")),
        rx.cond(oversees, _nav_link("Review", "/review")),
        rx.cond(oversees, _nav_link("Month close", "/months")),
        rx.cond(oversees, _nav_link("Audit log", "/audit")),
        rx.cond(AuthState.user_role == "admin", _nav_link("Users", "/admin/users")),
        rx.cond(AuthState.user_role == "admin", _nav_link("Practice", "/admin/practice")),
        rx.cond(AuthState.user_role == "admin", _nav_link("Status", "/status")),
        _nav_link("My account", "/account"),
        spacing="4", wrap="wrap",
    ), aria_label="Main")


def app_shell(*children: rx.Component) -> rx.Component:
    return rx.box(
        timer_bar(),
        rx.hstack(
            rx.vstack(
                rx.text("ccm_pwa", weight="bold", size="2", color_scheme="teal"),
                rx.text(rx.cond(AuthState.user_name != "", AuthState.user_name,
                                ME.value["name"].to(str)), size="3", weight="medium",
                        aria_label="Signed in as"),
                spacing="0",
            ),
            rx.spacer(),
            lock_button(),
            sign_out_button(),
            align="center", width="100%", padding="12px 16px",
            border_bottom="1px solid var(--gray-5)",
        ),
        rx.box(navigation(), padding="4px 16px", border_bottom="1px solid var(--gray-4)"),
        rx.box(status_strip(), *children, padding="16px", max_width="960px", margin="0 auto",
               padding_bottom="96px"),
        stop_form(),
        min_height="100vh",
    )


VISUALLY_HIDDEN = {
    "position": "absolute", "width": "1px", "height": "1px", "overflow": "hidden",
    "clip": "rect(0 0 0 0)", "white_space": "nowrap",
}


def table_caption(text: str) -> rx.Component:
    """Names a table for screen readers (and tests): Radix puts aria-label on a wrapper."""
    return rx.el.caption(text, style=VISUALLY_HIDDEN)
