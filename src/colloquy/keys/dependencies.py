"""Loading the caller's own API key from the path."""

import uuid
from typing import Annotated

from fastapi import Depends

from colloquy.accounts.dependencies import LoginUser
from colloquy.core.dependencies import SessionDep
from colloquy.keys import service as keys
from colloquy.keys.models import ApiKey


async def get_owned_key(key_id: uuid.UUID, user: LoginUser, session: SessionDep) -> ApiKey:
    return await keys.get_key(session, owner=user, key_id=key_id)


OwnedApiKey = Annotated[ApiKey, Depends(get_owned_key)]
