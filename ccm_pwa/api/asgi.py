"""The API alone as an ASGI app, with the same security headers as the full app.

The Reflex app serves the API itself (ccm_pwa.ccm_pwa); this entry point lets the API
tests, and tools that need no pages, run it under any ASGI server.
"""

from ccm_pwa.api.main import api
from ccm_pwa.api.proxy_headers import with_proxy_headers
from ccm_pwa.api.security_headers import with_security_headers

application = with_proxy_headers(with_security_headers(api))
