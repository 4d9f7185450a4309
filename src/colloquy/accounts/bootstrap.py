"""Creating the first administrator from the command line, through the same rules as the API."""

import uuid

from pydantic import ValidationError

from colloquy.accounts import service as accounts
from colloquy.accounts.schemas import RegisterRequest
from colloquy.core.database import Database, create_engine, transaction
from colloquy.core.errors import AppError
from colloquy.core.network import ClientInfo
from colloquy.core.ratelimit import RateLimiter
from colloquy.core.security import PasswordHasher, TokenSigner
from colloquy.core.settings import Settings


async def create_admin(settings: Settings, email: str, name: str, password: str) -> uuid.UUID:
    """Raises ValueError with a readable message when the input or the state forbids it."""
    try:
        data = RegisterRequest(name=name, email=email, password=password)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(problems) from exc
    tools = accounts.AuthTools(
        settings=settings,
        hasher=PasswordHasher(settings),
        signer=TokenSigner(settings),
        limiter=RateLimiter(),
    )
    database = Database(create_engine(settings))
    try:
        async with transaction(database) as session:
            user = await accounts.register(
                session,
                tools=tools,
                name=data.name,
                email=data.email,
                password=data.password,
                client=ClientInfo(user_agent="colloquy-cli"),
                is_admin=True,
            )
            return user.id
    except AppError as exc:
        raise ValueError(exc.detail) from exc
    finally:
        await database.dispose()
