"""Request and response bodies for accounts, authentication and administration."""

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from colloquy.core.schemas import PartialUpdate, Strict

PASSWORD_MIN = 8
PASSWORD_MAX = 128


def normalize_email(value: str) -> str:
    """The form emails are compared in: trimmed, NFKC, case-folded."""
    return unicodedata.normalize("NFKC", value.strip()).casefold()


def _check_email(value: str) -> str:
    value = unicodedata.normalize("NFKC", value.strip())
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc
    return value


def _check_password(value: str) -> str:
    length = len(value)
    if not PASSWORD_MIN <= length <= PASSWORD_MAX:
        raise ValueError(f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
    return value


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_check_email)]
# The length is checked in characters, after decoding, never in bytes.
Password = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_check_password)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AnyPassword = Annotated[str, StringConstraints(max_length=1024)]


class RegisterRequest(Strict):
    name: Name
    email: Email
    password: Password


class LoginRequest(Strict):
    email: Annotated[str, StringConstraints(max_length=320)]
    password: AnyPassword


class RefreshRequest(Strict):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    is_active: bool
    is_admin: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    monthly_token_quota: int | None = None


class UserUpdate(PartialUpdate):
    name: Name | None = None
    email: Email | None = None


class PasswordChange(Strict):
    current_password: AnyPassword
    new_password: Password


class AccountDelete(Strict):
    password: AnyPassword


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool = False


class AdminUserUpdate(PartialUpdate):
    nullable_fields: ClassVar[frozenset[str]] = frozenset({"monthly_token_quota"})

    name: Name | None = None
    is_active: bool | None = None
    is_admin: bool | None = None
    monthly_token_quota: Annotated[int, Field(ge=0, le=10**15)] | None = Field(
        default=None,
        description="Tokens a month for this user; null follows COLLOQUY_MONTHLY_TOKEN_QUOTA.",
    )


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    user_agent: str | None
    outcome: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
