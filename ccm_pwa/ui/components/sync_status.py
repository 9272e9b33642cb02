"""The calm connection indicator that replaces Reflex's red "Cannot connect" toast.

Working offline is normal for a care manager, not an error: a small pill says so and how
many changes are waiting; a banner appears only when something needs her (changes older
than a day, or a new version of the app ready to load).
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

from ccm_pwa.ui.field import SYNC, UPDATE, js

_PILL = {
    "position": "fixed", "bottom": "calc(12px + env(safe-area-inset-bottom))", "left": "50%",
    "transform": "translateX(-50%)", "padding": "8px 16px", "border_radius": "999px",
    "background": "var(--gray-3)", "color": "var(--gray-12)", "white_space": "nowrap",
    "z_index": "25", "border": "1px solid var(--gray-6)", "font_size": "14px",
}


def _offline_pill() -> rx.Component:
    sync = SYNC.value
    offline = (sync["state"].to(str) == "offline") | has_connection_errors
    return rx.cond(offline, rx.box(
        rx.cond(sync["pending"].to(str) == "0", "Offline — your work is kept on this phone",
                rx.fragment("Offline — ", sync["pending"].to(str), " changes waiting")),
        role="status", aria_live="polite", id="offline-indicator", style=_PILL))


def _stale_banner() -> rx.Component:
    sync = SYNC.value
    return rx.cond(sync["stale"].to(str) == "yes", rx.callout(
        rx.text("Changes saved on this phone since ", sync["oldest"].to(str),
                " have not reached the server yet. Connect to a network soon so they count."),
        color_scheme="amber", role="alert", size="1",
        style={"position": "fixed", "top": "0", "left": "0", "right": "0", "z_index": "40",
               "border_radius": "0"}))


def _update_prompt() -> rx.Component:
    return rx.cond(UPDATE.value == "yes", rx.hstack(
        rx.text("A new version of the app is ready.", size="2"),
        rx.button("Update now", size="2", on_click=js("window.ccmField.applyUpdate()"),
                  style={"minHeight": "44px"}),
        role="status", align="center", spacing="3", padding="8px 16px",
        style={**_PILL, "bottom": "calc(64px + env(safe-area-inset-bottom))",
               "background": "var(--accent-3)", "border": "1px solid var(--accent-7)"}))


def sync_overlay(stateful: bool) -> rx.Component | None:
    """Installed as `app.app_wraps[(5, "Overlay")]` in place of Reflex's default."""
    if not stateful:
        return None
    return rx.fragment(_offline_pill(), _stale_banner(), _update_prompt())
