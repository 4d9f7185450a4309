"""Loading the caller's own dataset from the path, and reaching the dataset storage."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from colloquy.accounts.dependencies import CurrentUser
from colloquy.core.dependencies import SessionDep
from colloquy.datasets import service as datasets
from colloquy.datasets.models import Dataset
from colloquy.datasets.storage import Storage


async def get_owned_dataset(
    dataset_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Dataset:
    return await datasets.get_dataset(session, owner=user, dataset_id=dataset_id)


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.dataset_storage
    return storage


OwnedDataset = Annotated[Dataset, Depends(get_owned_dataset)]
StorageDep = Annotated[Storage, Depends(get_storage)]
