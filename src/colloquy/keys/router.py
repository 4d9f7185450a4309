"""HTTP routes for API keys. Only a logged-in user manages keys; a key never does."""

from fastapi import APIRouter, status

from colloquy.accounts.dependencies import LoginUser
from colloquy.accounts.errors import InvalidAccessToken, KeyNotAllowed
from colloquy.core.dependencies import API_PREFIX, ClientDep, SessionDep, SettingsDep
from colloquy.core.errors import responses
from colloquy.core.pagination import Page, PageDep
from colloquy.keys import service as keys
from colloquy.keys.dependencies import OwnedApiKey
from colloquy.keys.errors import ApiKeyNotFound, KeyLimitReached
from colloquy.keys.models import ApiKey
from colloquy.keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    ApiKeyRotate,
    ApiKeyUpdate,
)

router = APIRouter(prefix=f"{API_PREFIX}/api-keys", tags=["api-keys"])
AUTH_ERRORS = (InvalidAccessToken, KeyNotAllowed)
ERRORS = (*AUTH_ERRORS, ApiKeyNotFound)


def _created(key: ApiKey, secret: str) -> ApiKeyCreated:
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(*AUTH_ERRORS, KeyLimitReached),
)
async def create_api_key(
    payload: ApiKeyCreate,
    user: LoginUser,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
) -> ApiKeyCreated:
    """Create an API key; the response holds its secret, shown this once."""
    key, secret = await keys.create_key(
        session, settings=settings, owner=user, data=payload, client=client
    )
    return _created(key, secret)


@router.get("", responses=responses(*AUTH_ERRORS))
async def list_api_keys(user: LoginUser, session: SessionDep, page: PageDep) -> Page[ApiKeyRead]:
    """List your API keys, newest first; secrets are never shown."""
    rows, total = await keys.list_keys(session, owner=user, page=page)
    items = [ApiKeyRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{key_id}", responses=responses(*ERRORS))
async def get_api_key(key: OwnedApiKey) -> ApiKeyRead:
    """An API key, without its secret."""
    return ApiKeyRead.model_validate(key)


@router.patch("/{key_id}", responses=responses(*ERRORS))
async def update_api_key(
    payload: ApiKeyUpdate, key: OwnedApiKey, session: SessionDep
) -> ApiKeyRead:
    """Rename an API key or change its model list and token budget."""
    return ApiKeyRead.model_validate(await keys.update_key(session, key=key, data=payload))


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(*ERRORS))
async def delete_api_key(key: OwnedApiKey, session: SessionDep, client: ClientDep) -> None:
    """Revoke an API key; it fails from its very next use."""
    await keys.revoke_key(session, key=key, client=client)


@router.post("/{key_id}/rotate", responses=responses(*ERRORS))
async def rotate_api_key(
    key: OwnedApiKey,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientDep,
    payload: ApiKeyRotate | None = None,
) -> ApiKeyCreated:
    """Give an API key a new secret, shown this once; the old one works for `grace_seconds`."""
    grace = payload.grace_seconds if payload is not None else 0
    secret = await keys.rotate_key(
        session, settings=settings, key=key, grace_seconds=grace, client=client
    )
    return _created(key, secret)
