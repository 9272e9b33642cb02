"""My account: change the password (re-authenticated) and sign out on every device."""

from __future__ import annotations

import reflex as rx

from ccm_pwa.api.routes.session import PASSWORD_PROBLEMS
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.sign_in import MIN_PASSWORD_LENGTH
from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.components.native_form import native_form
from ccm_pwa.ui.components.styles import BIG
from ccm_pwa.ui.field import REMINDERS, field_runtime, js
from ccm_pwa.ui.pages.login import field
from ccm_pwa.ui.states.auth import AuthState


class AccountState(AuthState):
    email: str = ""
    message: str = ""
    is_error: bool = False

    @rx.event
    def load(self) -> None:
        self.message, self.is_error = "", False
        try:
            user = self._require_user()
        except AccessDenied:
            return
        self.email = user.email
        query = self.router.url.query_parameters
        if query.get("changed"):
            self.message = "Password changed. You are signed out on every other device."
        elif (problem := query.get("problem", "")) in PASSWORD_PROBLEMS:
            self.message, self.is_error = PASSWORD_PROBLEMS[problem], True


def reminders_section() -> rx.Component:
    """Web Push on this phone: on, off, test; the payloads never name a patient."""
    state = REMINDERS.value["state"].to(str)
    return rx.vstack(
        rx.heading("Reminders", size="4", as_="h2", margin_top="16px"),
        rx.text("A short notice on this phone when patients still need minutes as the month "
                "runs out (counts only, never names). Weekdays at the practice's reminder time, "
                "not in quiet hours.", size="2"),
        rx.text(rx.match(
            state,
            ("on", "Reminders are on for this phone."),
            ("off", "Reminders are off for this phone."),
            ("denied", "Notifications are blocked for this app in the phone's settings."),
            ("unsupported", "This browser cannot show reminders (on an iPhone: add the app to "
                            "the Home Screen first)."),
            ("working", "Working…"),
            "Checking…",
        ), " Devices with reminders: ", REMINDERS.value["devices"].to(str), size="2",
            weight="medium", aria_label="Reminder status"),
        rx.cond(REMINDERS.value["message"].to(str) != "",
                rx.callout(REMINDERS.value["message"].to(str), role="status", size="1")),
        rx.hstack(
            rx.cond(state == "on",
                    rx.button("Turn off reminders", size="3", variant="soft", color_scheme="gray",
                              style=BIG, on_click=js("window.ccmField.disableReminders()")),
                    rx.button("Enable reminders", size="3", style=BIG,
                              on_click=js("window.ccmField.enableReminders()"))),
            rx.button("Send a test reminder", size="3", variant="outline", style=BIG,
                      on_click=js("window.ccmField.testReminder()")),
            wrap="wrap", spacing="2"),
        spacing="2", width="100%")


@rx.page(route="/account", title="My account · ccm_pwa",
         on_load=[AuthState.guard, AccountState.load])
def account_page() -> rx.Component:
    return app_shell(
        field_runtime(view="account"),
        rx.heading("My account", size="6", as_="h1"),
        rx.text(AuthState.user_name, " · ", AccountState.email, color_scheme="gray"),
        rx.cond(AccountState.message != "",
                rx.callout(AccountState.message, role=rx.cond(AccountState.is_error, "alert",
                                                               "status"),
                           color_scheme=rx.cond(AccountState.is_error, "red", "teal"))),
        reminders_section(),
        rx.heading("Change password", size="4", as_="h2", margin_top="16px"),
        native_form(
            rx.vstack(
                field("Current password", "current_password", type="password",
                      auto_complete="current-password"),
                field("Code from your authenticator app", "otp", input_mode="numeric",
                      auto_complete="one-time-code"),
                field("New password", "new_password", type="password",
                      auto_complete="new-password", min_length=MIN_PASSWORD_LENGTH),
                field("Repeat the new password", "confirm_password", type="password",
                      auto_complete="new-password", min_length=MIN_PASSWORD_LENGTH),
                rx.button("Change password", type="submit", size="3"),
                spacing="3", max_width="420px",
            ),
            action="/api/v1/session/password", method="post",
        ),
        rx.heading("Lost or shared device", size="4", as_="h2", margin_top="24px"),
        rx.text("End every session of your account, on this and every other device.", size="2"),
        native_form(
            rx.button("Sign out everywhere", type="submit", color_scheme="red", variant="soft"),
            action="/api/v1/session/sign-out-everywhere", method="post",
        ),
    )
