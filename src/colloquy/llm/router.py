"""HTTP routes for the model registry."""

from fastapi import APIRouter, status

from colloquy.accounts.dependencies import AdminUser, CurrentUser, LoginUser
from colloquy.accounts.errors import AdminRequired, InvalidAccessToken
from colloquy.core.dependencies import API_PREFIX, ClientDep, SessionDep, SettingsDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.llm import service as llm
from colloquy.llm.dependencies import AdminModel, DeletableModel, ProvidersDep, UsableModel
from colloquy.llm.errors import ModelNameTaken, ModelNotFound
from colloquy.llm.schemas import ModelCreate, ModelRead, ModelUpdate

router = APIRouter(prefix=f"{API_PREFIX}/models", tags=["models"])
ADMIN_ERRORS = (InvalidAccessToken, AdminRequired, ModelNotFound)


@router.get("", responses=responses(InvalidAccessToken))
async def list_models(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Page[ModelRead]:
    """The models you can use: the global ones and your own (fine-tuned) models."""
    rows, total = await llm.list_models(session, user=user, settings=settings, page=page)
    items = [ModelRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{model_id}", responses=responses(InvalidAccessToken, ModelNotFound))
async def get_model(model: UsableModel) -> ModelRead:
    """A model by id or by name."""
    return ModelRead.model_validate(model)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(InvalidAccessToken, AdminRequired, ModelNameTaken, ValidationFailed),
)
async def create_model(
    payload: ModelCreate,
    actor: AdminUser,
    session: SessionDep,
    providers: ProvidersDep,
    client: ClientDep,
) -> ModelRead:
    """Register a global model served by a configured provider (administrators only)."""
    model = await llm.create_model(
        session, actor=actor, data=payload, providers=providers, client=client
    )
    return ModelRead.model_validate(model)


@router.patch("/{model_id}", responses=responses(*ADMIN_ERRORS, ModelNameTaken))
async def update_model(
    payload: ModelUpdate,
    model: AdminModel,
    actor: AdminUser,
    session: SessionDep,
    providers: ProvidersDep,
    client: ClientDep,
) -> ModelRead:
    """Change a model, or make it the default (administrators only)."""
    updated = await llm.update_model(
        session, actor=actor, model=model, data=payload, providers=providers, client=client
    )
    return ModelRead.model_validate(updated)


@router.delete(
    "/{model_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*ADMIN_ERRORS),
)
async def delete_model(
    model: DeletableModel,
    actor: LoginUser,
    session: SessionDep,
    client: ClientDep,
    settings: SettingsDep,
) -> None:
    """Remove a model (administrators: any; users: their own fine-tuned ones, files included);
    chats and agents that named it fall back to the default."""
    await llm.delete_model(session, actor=actor, model=model, client=client, settings=settings)
