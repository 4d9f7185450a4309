"""Errors the accounts domain raises, each with a stable code."""

from colloquy.core.errors import Conflict, NotFound, PermissionDenied, Unauthorized


class EmailTaken(Conflict):
    code = "email_taken"
    default_detail = "An account with this email already exists."


class RegistrationClosed(PermissionDenied):
    code = "registration_closed"
    default_detail = "Registration is closed on this server."


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    default_detail = "The email or password is incorrect."
    keeps_changes = True


class AccountInactive(PermissionDenied):
    code = "account_inactive"
    default_detail = "This account has been deactivated."
    keeps_changes = True


class InvalidAccessToken(Unauthorized):
    code = "invalid_token"
    default_detail = "The access token is missing, invalid, expired or revoked."


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    default_detail = "The refresh token is invalid, expired or revoked."


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"
    default_detail = "This refresh token was already used; the login has been ended."
    keeps_changes = True


class InvalidPassword(PermissionDenied):
    code = "invalid_password"
    default_detail = "The password is incorrect."
    keeps_changes = True


class AdminRequired(PermissionDenied):
    code = "admin_required"
    default_detail = "This action needs an administrator."


class LastAdmin(Conflict):
    code = "last_admin"
    default_detail = "The last active administrator cannot be removed or deactivated."


class UserNotFound(NotFound):
    code = "user_not_found"
    default_detail = "No such user."


class LoginSessionNotFound(NotFound):
    code = "session_not_found"
    default_detail = "No such login session."


class KeyNotAllowed(PermissionDenied):
    code = "key_not_allowed"
    default_detail = "API keys cannot do this; log in instead."


class InsufficientScope(PermissionDenied):
    code = "insufficient_scope"
    default_detail = "The API key lacks the scope this request needs."
