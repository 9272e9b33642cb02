"""Authentication and authorization: passwords, TOTP, sessions, roles, audit."""
