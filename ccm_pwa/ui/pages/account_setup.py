"""First sign-in: choose a password and enroll the authenticator app (QR code or secret)."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.api.routes.session import SETUP_PROBLEMS
from ccm_pwa.auth.sessions import resolve_session, token_from_cookie_header
from ccm_pwa.auth.sign_in import MIN_PASSWORD_LENGTH
from ccm_pwa.auth.totp import provisioning_uri, qr_svg_data_uri
from ccm_pwa.db import session_scope
from ccm_pwa.ui.components.native_form import native_form
from ccm_pwa.ui.pages.login import field

SETUP_ACTION = "/api/v1/session/setup"


class SetupState(rx.State):
    """Only for a signed-in user who has not finished setup; shows their own secret once."""

    email: str = ""
    qr_code: str = ""
    secret: str = ""
    problem: str = ""

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        token = token_from_cookie_header(self.router.headers.cookie)
        with session_scope() as session:
            signed_in = resolve_session(session=session, token=token, now=datetime.now(UTC))
            if signed_in is None:
                return rx.redirect("/login", replace=True)
            if not signed_in.needs_setup:
                return rx.redirect("/", replace=True)
            user = signed_in.user
        secret = user.totp_secret or ""
        self.email = user.email
        self.secret = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        self.qr_code = qr_svg_data_uri(provisioning_uri(secret, user.email))
        self.problem = SETUP_PROBLEMS.get(self.router.url.query_parameters.get("problem", ""), "")
        return None


@rx.page(route="/account/setup", title="Set up sign-in · ccm_pwa", on_load=SetupState.load)
def account_setup_page() -> rx.Component:
    return rx.center(
        rx.card(
            native_form(
                rx.vstack(
                    rx.heading("Set up your sign-in", size="6", as_="h1"),
                    rx.text("Signed in as ", rx.text.strong(SetupState.email)),
                    rx.cond(SetupState.problem != "",
                            rx.callout(SetupState.problem, role="alert", color_scheme="red")),
                    rx.heading("1. Choose a password", size="4", as_="h2"),
                    field("New password", "new_password", type="password",
                          auto_complete="new-password", min_length=MIN_PASSWORD_LENGTH),
                    field("Repeat the new password", "confirm_password", type="password",
                          auto_complete="new-password", min_length=MIN_PASSWORD_LENGTH),
                    rx.heading("2. Add ccm_pwa to your authenticator app", size="4", as_="h2"),
                    rx.text("Scan this code, or type the secret key by hand.", size="2"),
                    rx.cond(SetupState.qr_code != "",
                            rx.image(src=SetupState.qr_code, alt="QR code for your authenticator",
                                     width="220px", height="220px")),
                    rx.text("Secret key", size="2", weight="medium"),
                    rx.code(SetupState.secret, size="4", aria_label="Secret key"),
                    rx.heading("3. Confirm", size="4", as_="h2"),
                    field("Code from your authenticator app", "otp", input_mode="numeric",
                          auto_complete="one-time-code"),
                    rx.button("Finish setup", type="submit", size="3", width="100%"),
                    spacing="3", width="100%",
                ),
                action=SETUP_ACTION, method="post",
            ),
            width="100%", max_width="460px", size="3",
        ),
        padding="16px",
    )
