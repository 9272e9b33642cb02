"""Reflex configuration; deployment values come from ccm_pwa.config (environment)."""

import reflex as rx

from ccm_pwa import log_redaction
from ccm_pwa.config import load_settings
from ccm_pwa.pwa import PwaPrecachePlugin
from ccm_pwa.serving import apply_worker_settings

# Every Reflex process reads this file first: from here on no log record carries a secret.
log_redaction.install()
settings = load_settings()
apply_worker_settings(settings)

# Behind a proxy the phones reach the backend at the public origin (wss://host/_event);
# unset, the built frontend uses whatever host it was loaded from (same-origin serving).
public_origin = {"api_url": settings.public_url.rstrip("/"),
                 "deploy_url": settings.public_url.rstrip("/")} if settings.public_url else {}

# CORS: no other origin may read an answer with a care manager's cookie (Reflex's default
# is every origin, with credentials). Same-origin serving needs no CORS header at all.
allowed_origins = (settings.public_origin,) if settings.public_origin else ()

config = rx.Config(
    app_name="ccm_pwa",
    db_url=settings.database_url,
    redis_url=settings.redis_url,
    # Screen state in Redis may hold PHI: it expires with the idle session (checklist B24).
    redis_token_expiration=settings.session_idle_minutes * 60,
    # Nothing leaves the practice unasked (design §5): no telemetry, no badge.
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="teal", radius="large")),
             PwaPrecachePlugin()],
    disable_plugins=[rx.plugins.SitemapPlugin],
    cors_allowed_origins=allowed_origins,
    **public_origin,
)
