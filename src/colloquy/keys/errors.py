"""Errors the keys domain raises."""

from colloquy.core.errors import Conflict, NotFound


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    default_detail = "No such API key."


class KeyLimitReached(Conflict):
    code = "key_limit_reached"
    default_detail = "You have as many API keys as allowed; revoke one first."
