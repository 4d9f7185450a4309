"""Who is calling: the user behind the bearer token, checked on every request."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from colloquy.accounts import service as accounts
from colloquy.accounts.errors import AdminRequired, InvalidAccessToken
from colloquy.accounts.models import User
from colloquy.core.database import transaction
from colloquy.core.dependencies import API_PREFIX, SessionDep

bearer = OAuth2PasswordBearer(tokenUrl=f"{API_PREFIX}/auth/token", auto_error=False)


def get_auth_tools(request: Request) -> accounts.AuthTools:
    tools: accounts.AuthTools = request.app.state.auth_tools
    return tools


AuthToolsDep = Annotated[accounts.AuthTools, Depends(get_auth_tools)]


async def get_authenticated(
    request: Request,
    session: SessionDep,
    tools: AuthToolsDep,
    token: Annotated[str | None, Depends(bearer)],
) -> accounts.Authenticated:
    if not token:
        raise InvalidAccessToken("Authentication is required.")
    authenticated = await accounts.authenticate(session, tools=tools, token=token)
    request.state.user_id = str(authenticated.user.id)
    return authenticated


Authentication = Annotated[accounts.Authenticated, Depends(get_authenticated)]


async def get_current_user(authenticated: Authentication) -> User:
    return authenticated.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AdminRequired
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_user_briefly(
    request: Request, tools: AuthToolsDep, token: Annotated[str | None, Depends(bearer)]
) -> User:
    """The current user, checked in a transaction of its own that ends before the handler runs:
    for handlers that wait on long work and must not hold a database connection meanwhile."""
    if not token:
        raise InvalidAccessToken("Authentication is required.")
    async with transaction(request.app.state.database, write=False) as session:
        authenticated = await accounts.authenticate(session, tools=tools, token=token)
    request.state.user_id = str(authenticated.user.id)
    return authenticated.user


BriefUser = Annotated[User, Depends(get_user_briefly)]
