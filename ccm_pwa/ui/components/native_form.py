"""A <form> the browser submits itself.

Reflex's own form always calls preventDefault and routes the data through the websocket;
sign-in and sign-out must instead reach the HTTP API so it can set or clear the HttpOnly
cookie, and must work while the websocket is still connecting (or down).
"""

from __future__ import annotations

from reflex_base.components.component import field
from reflex_base.vars.base import Var
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    tag = "form"

    action: Var[str] = field(doc="URL the browser posts the form to")
    method: Var[str] = field(doc="HTTP method, normally post")


native_form = NativeForm.create
