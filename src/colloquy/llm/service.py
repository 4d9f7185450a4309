"""The model registry: which models exist, which a user may use, and which is the default."""

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import audit
from colloquy.accounts.models import User
from colloquy.core.errors import ValidationFailed
from colloquy.core.network import ClientInfo
from colloquy.core.pagination import PageParams
from colloquy.core.repository import flush_unique
from colloquy.core.settings import Settings
from colloquy.llm import repository
from colloquy.llm.errors import ModelNameTaken, ModelNotFound, NoDefaultModel
from colloquy.llm.models import Model, ModelKind
from colloquy.llm.providers import ProviderRegistry
from colloquy.llm.providers.base import ProviderError
from colloquy.llm.providers.local import LocalProvider
from colloquy.llm.schemas import ModelCreate, ModelUpdate

DEV_MODEL_NAME = "colloquy-dev"


async def ensure_dev_model(session: AsyncSession, settings: Settings) -> None:
    """With the development model on, a fresh install has `colloquy-dev` as its default model."""
    if not settings.dev_model_on or await repository.get_by_name(session, DEV_MODEL_NAME):
        return
    has_default = await repository.get_default(session, dev_enabled=True) is not None
    session.add(
        Model(
            name=DEV_MODEL_NAME,
            provider="dev",
            provider_model=DEV_MODEL_NAME,
            context_window=8192,
            max_output_tokens=1024,
            description="The built-in development model. Not AI: it restates your message.",
            is_default=not has_default,
        )
    )
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        return  # another process made it first


async def list_models(
    session: AsyncSession, *, user: User, settings: Settings, page: PageParams
) -> tuple[Sequence[Model], int]:
    return await repository.list_visible(
        session, user_id=user.id, dev_enabled=settings.dev_model_on, page=page
    )


async def get_model(
    session: AsyncSession, *, user: User | None, ref: str | uuid.UUID, settings: Settings
) -> Model:
    """A model the user may use, by id or name; anything else is ModelNotFound (404)."""
    model = await repository.find_visible(
        session,
        user_id=user.id if user else None,
        ref=str(ref),
        dev_enabled=settings.dev_model_on,
    )
    if model is None:
        raise ModelNotFound
    return model


async def default_model(session: AsyncSession, *, settings: Settings) -> Model:
    if settings.default_model:
        model = await repository.find_visible(
            session, user_id=None, ref=settings.default_model, dev_enabled=settings.dev_model_on
        )
    else:
        model = await repository.get_default(session, dev_enabled=settings.dev_model_on)
    if model is None:
        raise NoDefaultModel
    return model


def _check_provider(providers: ProviderRegistry, name: str, provider_model: str) -> None:
    try:
        provider = providers.get(name)
    except ProviderError as exc:
        raise ValidationFailed(
            f"No provider named {name!r} is configured.",
            errors=[{"loc": ["body", "provider"], "msg": f"unknown provider {name!r}"}],
        ) from exc
    if isinstance(provider, LocalProvider) and not provider.checkpoint_allowed(provider_model):
        raise ValidationFailed(
            "A local checkpoint must lie under one of COLLOQUY_MODEL_DIRS.",
            errors=[
                {
                    "loc": ["body", "provider_model"],
                    "msg": "not a directory under the configured model directories",
                }
            ],
        )


async def create_model(
    session: AsyncSession,
    *,
    actor: User,
    data: ModelCreate,
    providers: ProviderRegistry,
    client: ClientInfo,
) -> Model:
    _check_provider(providers, data.provider, data.provider_model)
    if await repository.get_by_name(session, data.name):
        raise ModelNameTaken
    if data.is_default:
        await repository.clear_default(session)
    model = Model(**data.model_dump(), kind=ModelKind.BASE)
    session.add(model)
    await flush_unique(session, ModelNameTaken)
    await audit.record(
        session,
        action="admin.model_create",
        client=client,
        actor_id=actor.id,
        target_type="model",
        target_id=model.id,
        data={"name": model.name},
    )
    return model


async def update_model(
    session: AsyncSession,
    *,
    actor: User,
    model: Model,
    data: ModelUpdate,
    providers: ProviderRegistry,
    client: ClientInfo,
) -> Model:
    changes = data.changes()
    if "provider_model" in changes:
        _check_provider(providers, model.provider, changes["provider_model"])
    if changes.get("name") not in (None, model.name) and await repository.get_by_name(
        session, changes["name"]
    ):
        raise ModelNameTaken
    if changes.get("is_default"):
        await repository.clear_default(session)
    for field, value in changes.items():
        setattr(model, field, value)
    await flush_unique(session, ModelNameTaken)
    await audit.record(
        session,
        action="admin.model_update",
        client=client,
        actor_id=actor.id,
        target_type="model",
        target_id=model.id,
        data={"fields": sorted(changes)},
    )
    return model


async def delete_model(
    session: AsyncSession, *, actor: User, model: Model, client: ClientInfo
) -> None:
    """Chats and agents that named the model fall back to the default model."""
    await audit.record(
        session,
        action="admin.model_delete",
        client=client,
        actor_id=actor.id,
        target_type="model",
        target_id=model.id,
        data={"name": model.name},
    )
    await session.delete(model)
    await session.flush()


async def get_any_model(session: AsyncSession, ref: str) -> Model:
    """Any model by id or name, for administrators."""
    model = await repository.find_any(session, ref)
    if model is None:
        raise ModelNotFound
    return model
