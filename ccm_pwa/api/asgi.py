"""The API alone as an ASGI app, with the same guard and security headers as the
full app.

The Reflex app serves the API itself (ccm_pwa.ccm_pwa); this entry point lets the API
tests, and tools that need no pages, run it under any ASGI server.
"""

from ccm_pwa import log_redaction
from ccm_pwa.api.main import api
from ccm_pwa.api.proxy_headers import with_proxy_headers
from ccm_pwa.api.request_guard import with_request_guard
from ccm_pwa.api.security_headers import with_security_headers

log_redaction.install()
application = with_proxy_headers(with_security_headers(with_request_guard(api)))
