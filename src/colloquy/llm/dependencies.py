"""The provider registry, and models loaded from the path for their user or for admins."""

from typing import Annotated

from fastapi import Depends, Request

from colloquy.accounts.dependencies import AdminUser, CurrentUser, LoginUser
from colloquy.core.dependencies import SessionDep, SettingsDep
from colloquy.llm import service as llm
from colloquy.llm.models import Model
from colloquy.llm.providers import ProviderRegistry


def get_providers(request: Request) -> ProviderRegistry:
    providers: ProviderRegistry = request.app.state.providers
    return providers


ProvidersDep = Annotated[ProviderRegistry, Depends(get_providers)]


async def get_usable_model(
    model_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Model:
    return await llm.get_model(session, user=user, ref=model_id, settings=settings)


async def get_deletable_model(
    model_id: str, user: LoginUser, session: SessionDep, settings: SettingsDep
) -> Model:
    return await llm.get_deletable_model(session, user=user, ref=model_id, settings=settings)


async def get_admin_model(model_id: str, _: AdminUser, session: SessionDep) -> Model:
    return await llm.get_any_model(session, model_id)


UsableModel = Annotated[Model, Depends(get_usable_model)]
AdminModel = Annotated[Model, Depends(get_admin_model)]
DeletableModel = Annotated[Model, Depends(get_deletable_model)]
