"""Errors the usage domain raises (a used-up quota is the core's QuotaExceeded)."""

from colloquy.core.errors import PermissionDenied


class ModelNotAllowed(PermissionDenied):
    code = "model_not_allowed"
    default_detail = "This API key may not use this model."
