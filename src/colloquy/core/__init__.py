"""Shared pieces every domain uses: settings, database, security, errors, HTTP plumbing."""
