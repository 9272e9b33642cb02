"""Reflex configuration; deployment values come from ccm_pwa.config (environment)."""

import reflex as rx

from ccm_pwa.config import load_settings
from ccm_pwa.pwa import PwaPrecachePlugin

settings = load_settings()

config = rx.Config(
    app_name="ccm_pwa",
    db_url=settings.database_url,
    redis_url=settings.redis_url,
    # Nothing leaves the practice unasked (design §5): no telemetry, no badge.
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="teal", radius="large")),
             PwaPrecachePlugin()],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
