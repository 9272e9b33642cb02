"""Builds the Reflex app: theme, head tags, pages and the /api/v1 mount. Wiring only."""

import reflex as rx

from ccm_pwa.api.main import api
from ccm_pwa.api.security_headers import with_security_headers
from ccm_pwa.ui import pages  # noqa: F401  (registers every @rx.page)

app = rx.App(
    # The API is mounted first; the header middleware then wraps pages, API and websocket.
    api_transformer=[api, with_security_headers],
    head_components=[
        rx.el.meta(name="theme-color", content="#0d9488"),
        rx.el.link(rel="icon", href="/favicon.png", type="image/png"),
        rx.el.link(rel="apple-touch-icon", href="/icon-192.png"),
        rx.el.meta(name="viewport",
                   content="width=device-width, initial-scale=1, viewport-fit=cover"),
    ],
)
