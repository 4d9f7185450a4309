"""HTTP routes for prompts and common prompts."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from colloquy.accounts.dependencies import AdminUser, CurrentUser
from colloquy.accounts.errors import AdminRequired, InvalidAccessToken
from colloquy.core.dependencies import API_PREFIX, ClientDep, SessionDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.prompts import service as prompts
from colloquy.prompts.dependencies import ExistingCommonPrompt, OwnedPrompt
from colloquy.prompts.errors import CommonPromptNotFound, PromptNotFound
from colloquy.prompts.schemas import (
    CommonPromptRead,
    PromptCreate,
    PromptRead,
    PromptUpdate,
    PromptWrite,
    RenderedPrompt,
    RenderRequest,
)

router = APIRouter(prefix=f"{API_PREFIX}/prompts", tags=["prompts"])
common_router = APIRouter(prefix=f"{API_PREFIX}/common-prompts", tags=["common prompts"])
ERRORS = (InvalidAccessToken, PromptNotFound)
COMMON_ERRORS = (InvalidAccessToken, CommonPromptNotFound)
ADMIN_ERRORS = (InvalidAccessToken, AdminRequired, CommonPromptNotFound)

Search = Annotated[str | None, Query(max_length=200, description="Search name and description.")]
Sort = Annotated[
    str | None,
    Query(max_length=40, description="name, created_at or updated_at; -key descends."),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(InvalidAccessToken, CommonPromptNotFound, ValidationFailed),
)
async def create_prompt(
    payload: PromptCreate, user: CurrentUser, session: SessionDep
) -> PromptRead:
    """Create a prompt, or copy a common prompt (`from_common_id`) with your changes."""
    return PromptRead.model_validate(await prompts.create_prompt(session, owner=user, data=payload))


@router.get("", responses=responses(InvalidAccessToken, ValidationFailed))
async def list_prompts(
    user: CurrentUser, session: SessionDep, page: PageDep, q: Search = None, sort: Sort = None
) -> Page[PromptRead]:
    """List your prompts, newest first unless `sort` says otherwise."""
    rows, total = await prompts.list_prompts(session, owner=user, q=q, sort=sort, page=page)
    items = [PromptRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{prompt_id}", responses=responses(*ERRORS))
async def get_prompt(prompt: OwnedPrompt) -> PromptRead:
    """A prompt of yours."""
    return PromptRead.model_validate(prompt)


@router.put("/{prompt_id}", responses=responses(*ERRORS, ValidationFailed))
async def replace_prompt(
    payload: PromptWrite, prompt: OwnedPrompt, session: SessionDep
) -> PromptRead:
    """Replace a prompt's fields; fields left out return to their defaults."""
    return PromptRead.model_validate(
        await prompts.replace_prompt(session, prompt=prompt, data=payload)
    )


@router.patch("/{prompt_id}", responses=responses(*ERRORS, ValidationFailed))
async def update_prompt(
    payload: PromptUpdate, prompt: OwnedPrompt, session: SessionDep
) -> PromptRead:
    """Change some of a prompt's fields; the result must still be a valid prompt."""
    return PromptRead.model_validate(
        await prompts.update_prompt(session, prompt=prompt, data=payload)
    )


@router.delete(
    "/{prompt_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*ERRORS),
)
async def delete_prompt(prompt: OwnedPrompt, session: SessionDep) -> None:
    """Delete a prompt."""
    await prompts.delete_prompt(session, prompt=prompt)


@router.post(
    "/{prompt_id}/render",
    responses=responses(*ERRORS, ValidationFailed),
)
async def render_prompt(payload: RenderRequest, prompt: OwnedPrompt) -> RenderedPrompt:
    """Fill a prompt's variables in; values are inserted as literal text, never evaluated."""
    return RenderedPrompt(text=prompts.render_prompt(prompt, values=payload.variables))


@common_router.get("", responses=responses(InvalidAccessToken, ValidationFailed))
async def list_common_prompts(
    _: CurrentUser, session: SessionDep, page: PageDep, q: Search = None, sort: Sort = None
) -> Page[CommonPromptRead]:
    """List the common prompts every user can read, newest first unless `sort` says otherwise."""
    rows, total = await prompts.list_common_prompts(session, q=q, sort=sort, page=page)
    items = [CommonPromptRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@common_router.get("/{prompt_id}", responses=responses(*COMMON_ERRORS))
async def get_common_prompt(prompt: ExistingCommonPrompt) -> CommonPromptRead:
    """A common prompt."""
    return CommonPromptRead.model_validate(prompt)


@common_router.post(
    "/{prompt_id}/render",
    responses=responses(*COMMON_ERRORS, ValidationFailed),
)
async def render_common_prompt(
    payload: RenderRequest, prompt: ExistingCommonPrompt
) -> RenderedPrompt:
    """Fill a common prompt's variables in; values are inserted as literal text."""
    return RenderedPrompt(text=prompts.render_prompt(prompt, values=payload.variables))


@common_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(InvalidAccessToken, AdminRequired, ValidationFailed),
)
async def create_common_prompt(
    payload: PromptWrite, admin: AdminUser, session: SessionDep, client: ClientDep
) -> CommonPromptRead:
    """Add a common prompt (administrators only)."""
    return CommonPromptRead.model_validate(
        await prompts.create_common_prompt(session, admin=admin, data=payload, client=client)
    )


@common_router.put("/{prompt_id}", responses=responses(*ADMIN_ERRORS, ValidationFailed))
async def replace_common_prompt(
    payload: PromptWrite,
    admin: AdminUser,
    prompt: ExistingCommonPrompt,
    session: SessionDep,
    client: ClientDep,
) -> CommonPromptRead:
    """Replace a common prompt's fields (administrators only)."""
    return CommonPromptRead.model_validate(
        await prompts.replace_common_prompt(
            session, admin=admin, prompt=prompt, data=payload, client=client
        )
    )


@common_router.patch("/{prompt_id}", responses=responses(*ADMIN_ERRORS, ValidationFailed))
async def update_common_prompt(
    payload: PromptUpdate,
    admin: AdminUser,
    prompt: ExistingCommonPrompt,
    session: SessionDep,
    client: ClientDep,
) -> CommonPromptRead:
    """Change some of a common prompt's fields (administrators only)."""
    return CommonPromptRead.model_validate(
        await prompts.update_common_prompt(
            session, admin=admin, prompt=prompt, data=payload, client=client
        )
    )


@common_router.delete(
    "/{prompt_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*ADMIN_ERRORS),
)
async def delete_common_prompt(
    admin: AdminUser, prompt: ExistingCommonPrompt, session: SessionDep, client: ClientDep
) -> None:
    """Delete a common prompt (administrators only); copies users made are kept."""
    await prompts.delete_common_prompt(session, admin=admin, prompt=prompt, client=client)
