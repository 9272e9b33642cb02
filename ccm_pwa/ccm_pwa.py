"""Builds the Reflex app: theme, head tags, pages and the /api/v1 mount. Wiring only."""

import reflex as rx

from ccm_pwa import log_redaction
from ccm_pwa.api.main import api
from ccm_pwa.api.proxy_headers import with_proxy_headers
from ccm_pwa.api.request_guard import with_request_guard
from ccm_pwa.api.security_headers import with_security_headers
from ccm_pwa.push.scheduler import reminder_loop
from ccm_pwa.ui import pages  # noqa: F401  (registers every @rx.page)
from ccm_pwa.ui.components.sync_status import sync_overlay

# Registered at parse time from the prerendered <head> (offline notes P3); no <, > or &.
REGISTER_SERVICE_WORKER = (
    "if ('serviceWorker' in navigator) { window.addEventListener('load', function () {"
    " navigator.serviceWorker.register('/sw.js', {scope: '/', updateViaCache: 'none'})"
    ".catch(function (error) { console.warn('service worker not registered', error); });"
    " }); }"
)

log_redaction.install()  # also set by rxconfig.py; a worker may import this module first
app = rx.App(
    # The API is mounted first; the request guard (Origin, content type, body size) wraps
    # API and websocket, the header middleware wraps everything including its refusals, and
    # outermost the trusted proxy's X-Forwarded-* become the scheme and client address.
    api_transformer=[api, with_request_guard, with_security_headers, with_proxy_headers],
    head_components=[
        rx.el.link(rel="manifest", href="/manifest.webmanifest"),
        rx.el.meta(name="theme-color", content="#0d9488"),
        rx.el.link(rel="icon", href="/favicon.png", type="image/png"),
        rx.el.link(rel="apple-touch-icon", href="/icon-192.png"),
        rx.el.meta(name="mobile-web-app-capable", content="yes"),
        rx.el.meta(name="apple-mobile-web-app-capable", content="yes"),
        rx.el.meta(name="apple-mobile-web-app-title", content="CCM"),
        rx.el.meta(name="viewport",
                   content="width=device-width, initial-scale=1, viewport-fit=cover"),
        rx.el.script(REGISTER_SERVICE_WORKER),
    ],
)
# A calm offline pill instead of the red connection toast (offline notes §1.7).
app.app_wraps[(5, "Overlay")] = sync_overlay
# Reminders: each worker wakes every minute; a leader lock lets one of them send.
app.register_lifespan_task(reminder_loop)
