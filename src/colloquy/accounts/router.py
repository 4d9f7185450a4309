"""HTTP routes for authentication, the caller's own account, and administration."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import AwareDatetime

from colloquy.accounts import admin, audit
from colloquy.accounts import service as accounts
from colloquy.accounts.dependencies import (
    AdminUser,
    AuthToolsDep,
    CurrentUser,
    LoginAuthentication,
    LoginUser,
)
from colloquy.accounts.errors import (
    AccountInactive,
    AdminRequired,
    EmailTaken,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidPassword,
    InvalidRefreshToken,
    KeyNotAllowed,
    LastAdmin,
    LoginSessionNotFound,
    RefreshTokenReused,
    RegistrationClosed,
    UserNotFound,
)
from colloquy.accounts.schemas import (
    AccountDelete,
    AdminUserUpdate,
    AuditEventRead,
    LoginRequest,
    PasswordChange,
    RefreshRequest,
    RegisterRequest,
    SessionRead,
    TokenPair,
    UserRead,
    UserUpdate,
)
from colloquy.core.dependencies import API_PREFIX, ClientDep, SessionDep
from colloquy.core.errors import RateLimited, responses
from colloquy.core.pagination import Page, PageDep

auth_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
users_router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"])
admin_router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"])

LOGIN_ERRORS = responses(InvalidCredentials, AccountInactive, RateLimited)


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=responses(EmailTaken, RegistrationClosed, RateLimited),
)
async def register(
    payload: RegisterRequest, session: SessionDep, tools: AuthToolsDep, client: ClientDep
) -> UserRead:
    """Create an account."""
    user = await accounts.register(
        session,
        tools=tools,
        name=payload.name,
        email=payload.email,
        password=payload.password,
        client=client,
    )
    return UserRead.model_validate(user)


@auth_router.post("/login", responses=LOGIN_ERRORS)
async def login(
    payload: LoginRequest, session: SessionDep, tools: AuthToolsDep, client: ClientDep
) -> TokenPair:
    """Exchange an email and password for an access token and a refresh token."""
    return await accounts.login(
        session, tools=tools, email=payload.email, password=payload.password, client=client
    )


@auth_router.post("/token", responses=LOGIN_ERRORS)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    tools: AuthToolsDep,
    client: ClientDep,
) -> TokenPair:
    """Log in with the OAuth2 password form (the username field holds the email)."""
    return await accounts.login(
        session, tools=tools, email=form.username, password=form.password, client=client
    )


@auth_router.post("/refresh", responses=responses(InvalidRefreshToken, RefreshTokenReused))
async def refresh(
    payload: RefreshRequest, session: SessionDep, tools: AuthToolsDep, client: ClientDep
) -> TokenPair:
    """Trade a refresh token for a new pair; each refresh token works once."""
    return await accounts.refresh(
        session, tools=tools, refresh_token=payload.refresh_token, client=client
    )


@auth_router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, responses=responses(InvalidRefreshToken)
)
async def logout(payload: RefreshRequest, session: SessionDep, client: ClientDep) -> None:
    """End the login the refresh token belongs to; its access tokens stop working."""
    await accounts.logout(session, refresh_token=payload.refresh_token, client=client)


@auth_router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(InvalidAccessToken, KeyNotAllowed),
)
async def logout_all(user: LoginUser, session: SessionDep, client: ClientDep) -> None:
    """End every login of the current user."""
    await accounts.logout_all(session, user=user, client=client)


@auth_router.get("/sessions", responses=responses(InvalidAccessToken, KeyNotAllowed))
async def list_sessions(
    authenticated: LoginAuthentication, session: SessionDep, page: PageDep
) -> Page[SessionRead]:
    """List the current user's live logins; `current` marks the one making this request."""
    rows, total = await accounts.list_sessions(session, user=authenticated.user, page=page)
    items = [
        SessionRead.model_validate(row).model_copy(
            update={"current": row.id == authenticated.session_id}
        )
        for row in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@auth_router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(InvalidAccessToken, KeyNotAllowed, LoginSessionNotFound),
)
async def delete_session(
    session_id: uuid.UUID, user: LoginUser, session: SessionDep, client: ClientDep
) -> None:
    """End one of the current user's logins, e.g. on a lost device."""
    await accounts.end_session(session, user=user, session_id=session_id, client=client)


@users_router.get("/me", responses=responses(InvalidAccessToken))
async def get_me(user: CurrentUser) -> UserRead:
    """The current user."""
    return UserRead.model_validate(user)


@users_router.patch("/me", responses=responses(InvalidAccessToken, EmailTaken))
async def update_me(payload: UserUpdate, user: CurrentUser, session: SessionDep) -> UserRead:
    """Change the current user's name or email."""
    return UserRead.model_validate(await accounts.update_me(session, user=user, data=payload))


@users_router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(InvalidAccessToken, KeyNotAllowed, InvalidPassword),
)
async def change_password(
    payload: PasswordChange,
    authenticated: LoginAuthentication,
    session: SessionDep,
    tools: AuthToolsDep,
    client: ClientDep,
) -> None:
    """Change the password; every other login of the user ends."""
    await accounts.change_password(
        session,
        tools=tools,
        user=authenticated.user,
        current_session_id=authenticated.session_id,
        current_password=payload.current_password,
        new_password=payload.new_password,
        client=client,
    )


@users_router.delete(
    "/me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(InvalidAccessToken, KeyNotAllowed, InvalidPassword, LastAdmin),
)
async def delete_me(
    payload: AccountDelete,
    user: LoginUser,
    session: SessionDep,
    tools: AuthToolsDep,
    client: ClientDep,
) -> None:
    """Delete the account and everything it owns; the password confirms it."""
    await accounts.delete_account(
        session, tools=tools, user=user, password=payload.password, client=client
    )


ADMIN_ERRORS = (InvalidAccessToken, KeyNotAllowed, AdminRequired)


@admin_router.get("/users", responses=responses(*ADMIN_ERRORS))
async def list_users(
    _: AdminUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=320, description="Search email and name.")] = None,
    is_active: bool | None = None,
) -> Page[UserRead]:
    """List users (administrators only)."""
    rows, total = await admin.list_users(session, q=q, is_active=is_active, page=page)
    items = [UserRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@admin_router.get("/users/{user_id}", responses=responses(*ADMIN_ERRORS, UserNotFound))
async def get_user(user_id: uuid.UUID, _: AdminUser, session: SessionDep) -> UserRead:
    """One user (administrators only)."""
    return UserRead.model_validate(await admin.get_user(session, user_id))


@admin_router.patch("/users/{user_id}", responses=responses(*ADMIN_ERRORS, UserNotFound, LastAdmin))
async def update_user(
    user_id: uuid.UUID,
    payload: AdminUserUpdate,
    actor: AdminUser,
    session: SessionDep,
    client: ClientDep,
) -> UserRead:
    """Rename, (de)activate, or grant or revoke admin (administrators only)."""
    user = await admin.update_user(
        session, actor=actor, user_id=user_id, data=payload, client=client
    )
    return UserRead.model_validate(user)


@admin_router.get("/audit-events", responses=responses(*ADMIN_ERRORS))
async def list_audit_events(
    _: AdminUser,
    session: SessionDep,
    page: PageDep,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Events at or after this time.")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Events before this time.")] = None,
) -> Page[AuditEventRead]:
    """The audit log, newest first (administrators only)."""
    rows, total = await audit.list_events(
        session, page=page, actor_id=actor_id, action=action, since=since, until=until
    )
    items = [AuditEventRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
