"""Installation status page: proves the app, its database, schema and Redis are up."""

from __future__ import annotations

from datetime import UTC, datetime

import reflex as rx

from ccm_pwa.auth.access import AccessDenied
from ccm_pwa.db import session_scope
from ccm_pwa.models import Role
from ccm_pwa.services.health import check_health
from ccm_pwa.services.installation import summarize_practices
from ccm_pwa.ui.components.layout import app_shell
from ccm_pwa.ui.states.auth import AuthState


class StatusState(AuthState):
    """Installation facts for the practice's admin (counts only, no PHI)."""

    database: str = "checking…"
    schema_revision: str = ""
    screen_state: str = ""
    practices: list[dict[str, str]] = []
    checked_at: str = ""

    @rx.event
    def load(self) -> None:
        try:
            self._require_user(Role.ADMIN)
        except AccessDenied:
            return
        health = check_health()
        self.database = "Connected" if health.ok else f"Not ready ({health.database})"
        self.schema_revision = health.schema_revision or "none"
        self.screen_state = ("on this server (one worker)" if health.redis == "not configured"
                             else f"Redis: {health.redis}")
        now = datetime.now(UTC)
        self.checked_at = now.strftime("%Y-%m-%d %H:%M UTC")
        if not health.ok:
            self.practices = []
            return
        with session_scope() as session:
            self.practices = [
                {"name": p.name, "timezone": p.timezone, "month": p.local_month,
                 "days_left": str(p.days_left), "enrolled": str(p.enrolled_patients),
                 "care_managers": str(p.care_managers)}
                for p in summarize_practices(session=session, now=now)
            ]


def _practice_card(practice: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(
        rx.heading(practice["name"], size="4", as_="h2"),
        rx.data_list.root(
            rx.data_list.item(rx.data_list.label("Time zone"),
                              rx.data_list.value(practice["timezone"])),
            rx.data_list.item(rx.data_list.label("Billing month"),
                              rx.data_list.value(practice["month"])),
            rx.data_list.item(rx.data_list.label("Days left in month"),
                              rx.data_list.value(practice["days_left"])),
            rx.data_list.item(rx.data_list.label("Enrolled patients"),
                              rx.data_list.value(practice["enrolled"])),
            rx.data_list.item(rx.data_list.label("Care managers"),
                              rx.data_list.value(practice["care_managers"])),
            orientation="horizontal", size="3",
        ),
        width="100%",
    )


@rx.page(route="/status", title="ccm_pwa · status",
         on_load=[AuthState.guard, StatusState.load])
def status_page() -> rx.Component:
    return app_shell(rx.container(
        rx.vstack(
            rx.heading("Chronic Care Management", size="7", as_="h1"),
            rx.text("Server status for this installation.", color_scheme="gray"),
            rx.card(
                rx.data_list.root(
                    rx.data_list.item(rx.data_list.label("Database"),
                                      rx.data_list.value(StatusState.database,
                                                         aria_label="Database status")),
                    rx.data_list.item(rx.data_list.label("Schema revision"),
                                      rx.data_list.value(StatusState.schema_revision)),
                    rx.data_list.item(rx.data_list.label("Screen state"),
                                      rx.data_list.value(StatusState.screen_state)),
                    rx.data_list.item(rx.data_list.label("Checked"),
                                      rx.data_list.value(StatusState.checked_at)),
                    orientation="horizontal", size="3",
                ),
                width="100%",
            ),
            rx.foreach(StatusState.practices, _practice_card),
            spacing="4", width="100%",
        ),
        size="2", padding="0",
    ))

