"""Loading the caller's own chat, and reaching the generation manager."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from colloquy.accounts.dependencies import CurrentUser
from colloquy.chats import service as chats
from colloquy.chats.generation import GenerationManager
from colloquy.chats.models import Chat
from colloquy.core.dependencies import SessionDep


async def get_owned_chat(chat_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Chat:
    return await chats.get_chat(session, owner=user, chat_id=chat_id)


def get_generations(request: Request) -> GenerationManager:
    manager: GenerationManager = request.app.state.generations
    return manager


OwnedChat = Annotated[Chat, Depends(get_owned_chat)]
GenerationsDep = Annotated[GenerationManager, Depends(get_generations)]
