"""Every page module; importing this package registers the routes."""

from ccm_pwa.ui.pages import status

__all__ = ["status"]
