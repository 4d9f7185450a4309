"""Dependencies shared by every domain: the request's transaction and who is asking from where."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.core.database import Database, transaction
from colloquy.core.network import ClientInfo
from colloquy.core.ratelimit import RateLimiter
from colloquy.core.security import PasswordHasher, TokenSigner
from colloquy.core.settings import Settings

API_PREFIX = "/api/v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, committed or rolled back before the response is sent."""
    async with transaction(
        get_database(request), write=request.method not in SAFE_METHODS
    ) as session:
        yield session


def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


def get_signer(request: Request) -> TokenSigner:
    signer: TokenSigner = request.app.state.signer
    return signer


def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def get_client(request: Request) -> ClientInfo:
    user_agent = request.headers.get("user-agent")
    return ClientInfo(
        ip=getattr(request.state, "client_ip", None),
        user_agent=user_agent[:512] if user_agent else None,
    )


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]
SignerDep = Annotated[TokenSigner, Depends(get_signer)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
ClientDep = Annotated[ClientInfo, Depends(get_client)]
