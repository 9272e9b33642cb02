"""Every page module; importing this package registers the routes."""

from ccm_pwa.ui.pages import (
    account,
    account_setup,
    admin_practice,
    admin_users,
    audit_log,
    care_plan,
    login,
    month_close,
    organisation,
    patient,
    program,
    review,
    status,
    team,
    today,
)

__all__ = ["account", "account_setup", "admin_practice", "admin_users", "audit_log",
           "care_plan", "login", "month_close", "organisation", "patient", "program",
           "review", "status", "team", "today"]
