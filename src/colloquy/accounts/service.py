"""Registration, login, token refresh and logout, and the user's own account."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import audit, repository
from colloquy.accounts.errors import (
    AccountInactive,
    EmailTaken,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidPassword,
    InvalidRefreshToken,
    LastAdmin,
    LoginSessionNotFound,
    RefreshTokenReused,
    RegistrationClosed,
)
from colloquy.accounts.models import AuditOutcome, LoginSession, RefreshToken, User
from colloquy.accounts.schemas import TokenPair, UserUpdate, normalize_email
from colloquy.core.database import utcnow
from colloquy.core.network import ClientInfo
from colloquy.core.pagination import PageParams
from colloquy.core.ratelimit import RateLimiter
from colloquy.core.repository import flush_unique
from colloquy.core.security import (
    InvalidToken,
    PasswordHasher,
    TokenSigner,
    new_opaque_token,
    token_digest,
)
from colloquy.core.settings import Settings

API_KEY_PREFIX = "ck-"


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """What an API key's owner set for it: models it may call and its own limits (None: any)."""

    allowed_models: frozenset[str] | None = None
    monthly_token_budget: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who is calling: a login's access token (every scope), or an API key with its scopes."""

    user: User
    session_id: uuid.UUID | None
    key_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None
    key_policy: KeyPolicy | None = None

    @property
    def by_key(self) -> bool:
        return self.key_id is not None


class KeyAuthenticator(Protocol):
    """Resolves an API key; supplied by the keys domain, which sits above accounts."""

    async def __call__(
        self, session: AsyncSession, *, token: str, client: ClientInfo
    ) -> Authenticated: ...


@dataclass(frozen=True, slots=True)
class AuthTools:
    """What authentication needs besides the session, built once at start-up."""

    settings: Settings
    hasher: PasswordHasher
    signer: TokenSigner
    limiter: RateLimiter
    key_authenticator: KeyAuthenticator | None = None


async def register(
    session: AsyncSession,
    *,
    tools: AuthTools,
    name: str,
    email: str,
    password: str,
    client: ClientInfo,
    is_admin: bool = False,
) -> User:
    if not tools.settings.registration_enabled and not is_admin:
        raise RegistrationClosed
    normalized = normalize_email(email)
    if client.ip is not None:
        await tools.limiter.hit(tools.settings.register_rate_limit, "register", "ip", client.ip)
    await tools.limiter.hit(tools.settings.register_rate_limit, "register", "account", normalized)
    if await repository.get_user_by_email(session, normalized) is not None:
        raise EmailTaken
    user = User(
        name=name,
        email=email,
        email_normalized=normalized,
        password_hash=await tools.hasher.hash(password),
        is_admin=is_admin,
    )
    session.add(user)
    await flush_unique(session, EmailTaken)
    await audit.record(
        session,
        action="user.register",
        client=client,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
    )
    return user


async def login(
    session: AsyncSession, *, tools: AuthTools, email: str, password: str, client: ClientInfo
) -> TokenPair:
    normalized = normalize_email(email)
    if client.ip is not None:
        await tools.limiter.hit(tools.settings.login_rate_limit, "login", "ip", client.ip)
    await tools.limiter.hit(tools.settings.login_rate_limit, "login", "account", normalized)
    user = await repository.get_user_by_email(session, normalized)
    valid, new_hash = await tools.hasher.verify(password, user.password_hash if user else None)
    if user is None or not valid:
        await audit.record(
            session,
            action="auth.login",
            client=client,
            actor_id=user.id if user else None,
            outcome=AuditOutcome.FAILURE,
            data={"reason": "invalid_credentials"},
        )
        raise InvalidCredentials
    if not user.is_active:
        await audit.record(
            session,
            action="auth.login",
            client=client,
            actor_id=user.id,
            outcome=AuditOutcome.FAILURE,
            data={"reason": "account_inactive"},
        )
        raise AccountInactive
    if new_hash is not None:
        user.password_hash = new_hash
    now = utcnow()
    user.last_login_at = now
    login_session = LoginSession(
        user_id=user.id,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(seconds=tools.settings.refresh_token_ttl),
        ip=client.ip,
        user_agent=client.user_agent,
    )
    session.add(login_session)
    await session.flush()
    pair = await _issue_pair(session, tools=tools, login_session=login_session, now=now)
    await audit.record(session, action="auth.login", client=client, actor_id=user.id)
    return pair


async def refresh(
    session: AsyncSession, *, tools: AuthTools, refresh_token: str, client: ClientInfo
) -> TokenPair:
    now = utcnow()
    digest = token_digest(refresh_token)
    session_id = await repository.claim_refresh_token(session, token_hash=digest, now=now)
    if session_id is None:
        await _reject_refresh(session, digest=digest, client=client)
    login_session = await repository.get_login(session, session_id)
    user = await repository.get_user(session, login_session.user_id) if login_session else None
    if (
        login_session is None
        or user is None
        or not user.is_active
        or login_session.revoked_at is not None
        or login_session.expires_at <= now
    ):
        raise InvalidRefreshToken
    login_session.last_used_at = now
    login_session.expires_at = now + timedelta(seconds=tools.settings.refresh_token_ttl)
    login_session.ip = client.ip
    login_session.user_agent = client.user_agent
    return await _issue_pair(session, tools=tools, login_session=login_session, now=now)


async def _reject_refresh(session: AsyncSession, *, digest: str, client: ClientInfo) -> NoReturn:
    """An unknown or expired token is refused; a used one ends its whole login (token theft)."""
    token = await repository.get_refresh_token(session, digest)
    if token is None or token.used_at is None:
        raise InvalidRefreshToken
    login_session = await repository.get_login(session, token.session_id)
    if login_session is None or login_session.revoked_at is not None:
        raise InvalidRefreshToken
    login_session.revoked_at = utcnow()
    await audit.record(
        session,
        action="auth.refresh_reuse",
        client=client,
        actor_id=login_session.user_id,
        target_type="session",
        target_id=login_session.id,
        outcome=AuditOutcome.FAILURE,
    )
    raise RefreshTokenReused


async def _issue_pair(
    session: AsyncSession, *, tools: AuthTools, login_session: LoginSession, now: datetime
) -> TokenPair:
    secret = new_opaque_token()
    session.add(
        RefreshToken(
            session_id=login_session.id,
            token_hash=token_digest(secret),
            created_at=now,
            expires_at=now + timedelta(seconds=tools.settings.refresh_token_ttl),
        )
    )
    await session.flush()
    access, expires_in = tools.signer.issue_access(
        user_id=login_session.user_id, session_id=login_session.id
    )
    return TokenPair(access_token=access, refresh_token=secret, expires_in=expires_in)


async def logout(session: AsyncSession, *, refresh_token: str, client: ClientInfo) -> None:
    token = await repository.get_refresh_token(session, token_digest(refresh_token))
    login_session = await repository.get_login(session, token.session_id) if token else None
    if login_session is None:
        raise InvalidRefreshToken
    if login_session.revoked_at is None:
        login_session.revoked_at = utcnow()
    await audit.record(
        session,
        action="auth.logout",
        client=client,
        actor_id=login_session.user_id,
        target_type="session",
        target_id=login_session.id,
    )


async def logout_all(session: AsyncSession, *, user: User, client: ClientInfo) -> None:
    ended = await repository.revoke_logins(session, user_id=user.id, now=utcnow())
    await audit.record(
        session,
        action="auth.logout_all",
        client=client,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        data={"sessions_ended": ended},
    )


async def identify(
    session: AsyncSession, *, tools: AuthTools, token: str, client: ClientInfo
) -> Authenticated:
    """The caller behind a bearer token: an API key when it looks like one, else an access token."""
    if token.startswith(API_KEY_PREFIX):
        if tools.key_authenticator is None:
            raise InvalidAccessToken
        return await tools.key_authenticator(session, token=token, client=client)
    return await authenticate(session, tools=tools, token=token)


async def authenticate(session: AsyncSession, *, tools: AuthTools, token: str) -> Authenticated:
    """The user behind an access token, checked against the database on every request."""
    try:
        claims = tools.signer.read_access(token)
    except InvalidToken as exc:
        raise InvalidAccessToken from exc
    user = await repository.get_session_user(
        session, user_id=claims.user_id, session_id=claims.session_id, now=utcnow()
    )
    if user is None:
        raise InvalidAccessToken
    return Authenticated(user=user, session_id=claims.session_id)


async def list_sessions(
    session: AsyncSession, *, user: User, page: PageParams
) -> tuple[Sequence[LoginSession], int]:
    return await repository.list_live_logins(session, user_id=user.id, now=utcnow(), page=page)


async def end_session(
    session: AsyncSession, *, user: User, session_id: uuid.UUID, client: ClientInfo
) -> None:
    now = utcnow()
    login_session = await repository.get_live_login(
        session, session_id=session_id, user_id=user.id, now=now
    )
    if login_session is None:
        raise LoginSessionNotFound
    login_session.revoked_at = now
    await audit.record(
        session,
        action="auth.session_end",
        client=client,
        actor_id=user.id,
        target_type="session",
        target_id=session_id,
    )


async def update_me(session: AsyncSession, *, user: User, data: UserUpdate) -> User:
    changes = data.model_dump(exclude_unset=True)
    if "email" in changes:
        normalized = normalize_email(changes["email"])
        existing = await repository.get_user_by_email(session, normalized)
        if existing is not None and existing.id != user.id:
            raise EmailTaken
        user.email_normalized = normalized
    for field, value in changes.items():
        setattr(user, field, value)
    await flush_unique(session, EmailTaken)
    return user


async def change_password(
    session: AsyncSession,
    *,
    tools: AuthTools,
    user: User,
    current_session_id: uuid.UUID | None,
    current_password: str,
    new_password: str,
    client: ClientInfo,
) -> None:
    await _confirm_password(
        session,
        tools=tools,
        user=user,
        password=current_password,
        action="user.password_change",
        client=client,
    )
    user.password_hash = await tools.hasher.hash(new_password)
    await repository.revoke_logins(
        session, user_id=user.id, now=utcnow(), except_session_id=current_session_id
    )
    await audit.record(
        session,
        action="user.password_change",
        client=client,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
    )


async def delete_account(
    session: AsyncSession, *, tools: AuthTools, user: User, password: str, client: ClientInfo
) -> None:
    await _confirm_password(
        session, tools=tools, user=user, password=password, action="user.delete", client=client
    )
    if user.is_admin and not set(await repository.lock_active_admin_ids(session)) - {user.id}:
        raise LastAdmin
    await audit.record(
        session,
        action="user.delete",
        client=client,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        data={"email": user.email},
    )
    await session.delete(user)
    await session.flush()


async def _confirm_password(
    session: AsyncSession,
    *,
    tools: AuthTools,
    user: User,
    password: str,
    action: str,
    client: ClientInfo,
) -> None:
    valid, _ = await tools.hasher.verify(password, user.password_hash)
    if not valid:
        await audit.record(
            session,
            action=action,
            client=client,
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            outcome=AuditOutcome.FAILURE,
            data={"reason": "invalid_password"},
        )
        raise InvalidPassword
