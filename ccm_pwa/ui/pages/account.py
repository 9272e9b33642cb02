"""My account: change the password (re-authenticated), sign out on every device, erase one
of my phones."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.api.routes.session import PASSWORD_PROBLEMS
from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.auth.sign_in import MIN_PASSWORD_LENGTH
from ccm_pwa.db import session_scope
from ccm_pwa.models import User
from ccm_pwa.services.installations import installations_of_user, practice_zone, request_wipe
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
    phones: list[dict[str, str]] = []

    def _load_phones(self, user: User) -> None:
        now = datetime.now(UTC)
        with session_scope() as session:
            zone = practice_zone(session=session, user=user)
            self.phones = [phone.describe(now=now, zone=zone) for phone in
                           installations_of_user(session=session, user_id=user.id)]

    @rx.event
    def load(self) -> None:
        self.message, self.is_error, self.phones = "", False, []
        try:
            user = self._require_user()
        except AccessDenied:
            return
        self.email = user.email
        self._load_phones(user)
        query = self.router.url.query_parameters
        if query.get("changed"):
            self.message = "Password changed. You are signed out on every other device."
        elif (problem := query.get("problem", "")) in PASSWORD_PROBLEMS:
            self.message, self.is_error = PASSWORD_PROBLEMS[problem], True

    @rx.event
    def erase_phone(self, client_id: str) -> None:
        """Only the caller's own phones, whatever her role: the Users screen is where an
        admin erases someone else's."""
        user = self._require_user()
        try:
            with session_scope() as session:
                request_wipe(session=session, actor=user, client_id=client_id,
                             now=datetime.now(UTC), client=self._client(), only_own=True)
        except AccessDenied:
            self._record_denial(user, None, "installation")
            raise
        self.message, self.is_error = ("That phone is signed out of sync now and erases "
                                       "itself at its next contact."), False
        self._load_phones(user)


def _phone_line(phone: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.el.li(rx.hstack(
        rx.text(phone["name"], " · ", phone["last_contact"], size="2"),
        rx.cond(phone["status"] != "", rx.text(phone["status"], size="2", weight="medium")),
        rx.cond(phone["can_erase"] != "",
                rx.button("Erase this phone", size="2", variant="soft", color_scheme="red",
                          on_click=AccountState.erase_phone(phone["id"]))),
        wrap="wrap", spacing="2", align="center"), style={"padding": "4px 0"})


def phones_section() -> rx.Component:
    """Every installation of the account: the server cannot tell which one is showing this
    page (the Reflex state knows the browser, not the installation), so each can be erased."""
    return rx.vstack(
        rx.heading("Your phones", size="4", as_="h2", margin_top="24px"),
        rx.text("Each phone where you use the app, newest contact first. Erasing this phone "
                "signs it out and removes its data at its next contact — changes it has not "
                "sent yet included. Erasing the phone you are holding works the same way.",
                size="2"),
        rx.cond(AccountState.phones.length() > 0,
                rx.el.ul(rx.foreach(AccountState.phones, _phone_line),
                         style={"listStyle": "none", "padding": 0, "margin": 0}),
                rx.text("No phone has synced with your account yet.", size="2",
                        color_scheme="gray")),
        spacing="2", width="100%")


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
        phones_section(),
        rx.heading("Lost or shared device", size="4", as_="h2", margin_top="24px"),
        rx.text("End every session of your account, on this and every other device.", size="2"),
        native_form(
            rx.button("Sign out everywhere", type="submit", color_scheme="red", variant="soft"),
            action="/api/v1/session/sign-out-everywhere", method="post",
        ),
    )
