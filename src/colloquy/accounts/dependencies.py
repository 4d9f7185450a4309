"""Who is calling: the user behind the bearer token (an access token or an API key), checked on
every request, and what an API key's scopes let it do."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from colloquy.accounts import service as accounts
from colloquy.accounts.errors import (
    AdminRequired,
    InsufficientScope,
    InvalidAccessToken,
    KeyNotAllowed,
)
from colloquy.accounts.models import User
from colloquy.core.database import transaction
from colloquy.core.dependencies import API_PREFIX, ClientDep, SessionDep

bearer = OAuth2PasswordBearer(tokenUrl=f"{API_PREFIX}/auth/token", auto_error=False)

READ_SCOPE = "read"
WRITE_SCOPE = "write"
READ_METHODS = frozenset({"GET", "HEAD"})


def get_auth_tools(request: Request) -> accounts.AuthTools:
    tools: accounts.AuthTools = request.app.state.auth_tools
    return tools


AuthToolsDep = Annotated[accounts.AuthTools, Depends(get_auth_tools)]
BearerToken = Annotated[str | None, Depends(bearer)]


def require_scope(authenticated: accounts.Authenticated, method: str) -> None:
    """An API key reads with `read` and changes things with `write`; a login may do both."""
    if authenticated.scopes is None:
        return
    needed = READ_SCOPE if method in READ_METHODS else WRITE_SCOPE
    if needed not in authenticated.scopes:
        raise InsufficientScope


async def identify_caller(
    request: Request,
    session: SessionDep,
    tools: AuthToolsDep,
    client: ClientDep,
    token: BearerToken,
) -> accounts.Authenticated:
    if not token:
        raise InvalidAccessToken("Authentication is required.")
    authenticated = await accounts.identify(session, tools=tools, token=token, client=client)
    request.state.user_id = str(authenticated.user.id)
    return authenticated


Caller = Annotated[accounts.Authenticated, Depends(identify_caller)]


async def get_authenticated(request: Request, caller: Caller) -> accounts.Authenticated:
    require_scope(caller, request.method)
    return caller


Authentication = Annotated[accounts.Authenticated, Depends(get_authenticated)]


async def get_current_user(authenticated: Authentication) -> User:
    return authenticated.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_login(caller: Caller) -> accounts.Authenticated:
    """A caller who logged in: API keys never manage keys, logins, the password or the account."""
    if caller.by_key:
        raise KeyNotAllowed
    return caller


LoginAuthentication = Annotated[accounts.Authenticated, Depends(get_login)]


async def get_login_user(authenticated: LoginAuthentication) -> User:
    return authenticated.user


LoginUser = Annotated[User, Depends(get_login_user)]


async def get_admin_user(user: LoginUser) -> User:
    if not user.is_admin:
        raise AdminRequired
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


async def get_caller_briefly(
    request: Request, tools: AuthToolsDep, client: ClientDep, token: BearerToken
) -> accounts.Authenticated:
    """The caller, checked in a transaction of its own that ends before the handler runs: for
    handlers that wait on long work and must not hold a database connection meanwhile."""
    if not token:
        raise InvalidAccessToken("Authentication is required.")
    async with transaction(request.app.state.database, write=False) as session:
        authenticated = await accounts.identify(session, tools=tools, token=token, client=client)
    require_scope(authenticated, request.method)
    request.state.user_id = str(authenticated.user.id)
    return authenticated


BriefCaller = Annotated[accounts.Authenticated, Depends(get_caller_briefly)]


async def get_user_briefly(caller: BriefCaller) -> User:
    return caller.user


BriefUser = Annotated[User, Depends(get_user_briefly)]
