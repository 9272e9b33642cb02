"""Builds the Reflex app: theme, head tags, pages and the /api/v1 mount. Wiring only."""

import reflex as rx

from ccm_pwa.api.main import api
from ccm_pwa.ui import pages  # noqa: F401  (registers every @rx.page)

app = rx.App(
    api_transformer=api,
    head_components=[
        rx.el.meta(name="theme-color", content="#0d9488"),
        rx.el.meta(name="viewport",
                   content="width=device-width, initial-scale=1, viewport-fit=cover"),
    ],
)
