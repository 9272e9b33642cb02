"""Sign-in screen: a plain HTML form, so it works before any script or websocket is up."""

from __future__ import annotations

import reflex as rx

from ccm_pwa.auth.sign_in import GENERIC_FAILURE
from ccm_pwa.ui.components.native_form import native_form
from ccm_pwa.ui.field import field_runtime

SIGN_IN_ACTION = "/api/v1/session/form"
# Why the phone's store was erased before it came here (assets/field/lock.js): the care
# manager must know that it was on purpose and what to do next.
ERASED = {
    "1": "This phone's ccm data was erased at your practice's or your own request. "
         "Sign in again to use ccm on it.",
    "too_many_pins": "Too many wrong PINs: this phone's ccm data was erased. "
                     "Sign in again and choose a new app PIN.",
    "forgot_pin": "This phone's ccm data was erased. Sign in again and choose a new app PIN.",
}


class LoginState(rx.State):
    message: str = ""
    is_error: bool = False

    @rx.event
    def load(self) -> None:
        query = self.router.url.query_parameters
        if query.get("failed"):
            self.message, self.is_error = GENERIC_FAILURE, True
        elif query.get("erased", "") in ERASED:
            self.message, self.is_error = ERASED[query["erased"]], False
        elif query.get("signed_out"):
            self.message, self.is_error = "You are signed out.", False
        else:
            self.message, self.is_error = "", False


def field(label: str, name: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name, style={"fontWeight": 500}),
        rx.input(id=name, name=name, size="3", width="100%", required=True, **props),
        spacing="1", width="100%",
    )


@rx.page(route="/login", title="Sign in · ccm_pwa", on_load=LoginState.load)
def login_page() -> rx.Component:
    return rx.center(
        field_runtime(view="signed_out"),
        rx.card(
            native_form(
                rx.vstack(
                    rx.heading("Sign in", size="6", as_="h1"),
                    rx.text("Chronic Care Management", color_scheme="gray"),
                    rx.cond(
                        LoginState.message != "",
                        rx.callout(LoginState.message, role="alert",
                                   color_scheme=rx.cond(LoginState.is_error, "red", "teal")),
                    ),
                    field("Email", "email", type="email", auto_complete="username"),
                    field("Password", "password", type="password",
                          auto_complete="current-password"),
                    rx.vstack(
                        rx.el.label("Code from your authenticator app", html_for="otp",
                                    style={"fontWeight": 500}),
                        rx.input(id="otp", name="otp", size="3", width="100%",
                                 input_mode="numeric", auto_complete="one-time-code",
                                 placeholder="6 digits (not needed at your first sign-in)"),
                        spacing="1", width="100%",
                    ),
                    rx.button("Sign in", type="submit", size="3", width="100%"),
                    spacing="4", width="100%",
                ),
                action=SIGN_IN_ACTION, method="post",
            ),
            width="100%", max_width="420px", size="3",
        ),
        padding="16px", min_height="100vh",
    )
