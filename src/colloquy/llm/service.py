"""The model registry: which models exist, which a user may use, and which is the default."""

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import anyio.to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import audit
from colloquy.accounts.errors import AdminRequired
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
from colloquy.llm.providers.local import LocalProvider, resolve_checkpoint
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


def _trained_files(model: Model, settings: Settings) -> Path | None:
    """The checkpoint a fine-tuned local model was trained into, if it lies in a model dir."""
    if model.kind is not ModelKind.FINE_TUNED:
        return None
    return resolve_checkpoint(model.provider_model, settings.model_dirs)


async def delete_model(
    session: AsyncSession, *, actor: User, model: Model, client: ClientInfo, settings: Settings
) -> None:
    """Chats and agents that named the model fall back to the default model; a fine-tuned
    model's files go with it."""
    files = _trained_files(model, settings)
    await audit.record(
        session,
        action="admin.model_delete" if actor.is_admin else "model.delete",
        client=client,
        actor_id=actor.id,
        target_type="model",
        target_id=model.id,
        data={"name": model.name},
    )
    await session.delete(model)
    await session.flush()
    if files is not None:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(files, ignore_errors=True))


async def create_fine_tuned_model(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    base: Model,
    name: str,
    checkpoint: str,
    description: str,
) -> Model:
    """Register a model trained from `base`: the owner's alone, served like its base."""
    model = Model(
        name=name,
        provider=base.provider,
        provider_model=checkpoint,
        context_window=base.context_window,
        max_output_tokens=base.max_output_tokens,
        description=description,
        kind=ModelKind.FINE_TUNED,
        owner_id=owner_id,
        base_model_id=base.id,
    )
    session.add(model)
    await flush_unique(session, ModelNameTaken)
    return model


async def get_deletable_model(
    session: AsyncSession, *, user: User, ref: str, settings: Settings
) -> Model:
    """Administrators may delete any model; a user only their own (fine-tuned) ones."""
    if user.is_admin:
        return await get_any_model(session, ref)
    model = await get_model(session, user=user, ref=ref, settings=settings)
    if model.owner_id != user.id:
        raise AdminRequired("Only administrators may delete models other than your own.")
    return model


async def get_any_model(session: AsyncSession, ref: str) -> Model:
    """Any model by id or name, for administrators."""
    model = await repository.find_any(session, ref)
    if model is None:
        raise ModelNotFound
    return model
