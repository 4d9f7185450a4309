"""Users, authentication and logins (refresh-token families), administration and the audit log."""
