"""Loading the caller's own prompt, or a common prompt, from the path."""

import uuid
from typing import Annotated

from fastapi import Depends

from colloquy.accounts.dependencies import CurrentUser
from colloquy.core.dependencies import SessionDep
from colloquy.prompts import service as prompts
from colloquy.prompts.models import CommonPrompt, Prompt


async def get_owned_prompt(prompt_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Prompt:
    return await prompts.get_prompt(session, owner=user, prompt_id=prompt_id)


async def get_common_prompt(
    prompt_id: uuid.UUID, _: CurrentUser, session: SessionDep
) -> CommonPrompt:
    return await prompts.get_common_prompt(session, prompt_id=prompt_id)


OwnedPrompt = Annotated[Prompt, Depends(get_owned_prompt)]
ExistingCommonPrompt = Annotated[CommonPrompt, Depends(get_common_prompt)]
