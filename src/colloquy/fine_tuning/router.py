"""HTTP routes for fine-tuning: datasets made from your chats."""

from fastapi import APIRouter, status

from colloquy.accounts.dependencies import CurrentUser
from colloquy.accounts.errors import InsufficientScope, InvalidAccessToken
from colloquy.chats.errors import ChatNotFound
from colloquy.core.dependencies import API_PREFIX, SessionDep, SettingsDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.datasets.dependencies import StorageDep
from colloquy.datasets.errors import DatasetInvalid, DatasetTooLarge
from colloquy.datasets.schemas import DatasetRead
from colloquy.fine_tuning import from_chats
from colloquy.fine_tuning.schemas import DatasetFromChats

router = APIRouter(prefix=API_PREFIX, tags=["datasets"])


@router.post(
    "/datasets/from-chats",
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        InvalidAccessToken,
        InsufficientScope,
        ChatNotFound,
        DatasetTooLarge,
        DatasetInvalid,
        ValidationFailed,
    ),
)
async def create_dataset_from_chats(
    payload: DatasetFromChats,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> DatasetRead:
    """Make a dataset of your chats: each chat's active branch becomes one example."""
    dataset = await from_chats.create_dataset_from_chats(
        session, storage=storage, settings=settings, owner=user, data=payload
    )
    return DatasetRead.model_validate(dataset)
