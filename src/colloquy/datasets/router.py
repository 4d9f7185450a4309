"""HTTP routes for datasets: streamed multipart upload, list, preview, content, rename, delete."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse

from colloquy.accounts.dependencies import BriefUser, CurrentUser
from colloquy.accounts.errors import InsufficientScope, InvalidAccessToken
from colloquy.core.dependencies import API_PREFIX, DatabaseDep, SessionDep, SettingsDep
from colloquy.core.errors import ValidationFailed, responses
from colloquy.core.pagination import Page, PageDep
from colloquy.datasets import service as datasets
from colloquy.datasets.dependencies import OwnedDataset, StorageDep
from colloquy.datasets.errors import (
    DatasetFileMissing,
    DatasetInvalid,
    DatasetNotFound,
    DatasetTooLarge,
    MalformedUpload,
)
from colloquy.datasets.schemas import DatasetPreview, DatasetRead, DatasetUpdate
from colloquy.datasets.upload import UPLOAD_BODY, read_upload

router = APIRouter(prefix=f"{API_PREFIX}/datasets", tags=["datasets"])
AUTH_ERRORS = (InvalidAccessToken, InsufficientScope)
ERRORS = (*AUTH_ERRORS, DatasetNotFound)
JSONL = "application/jsonl"


def content_disposition(filename: str) -> str:
    """An attachment header naming the file, with an ASCII fallback for older clients."""
    fallback = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\' else "_"
        for char in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        *AUTH_ERRORS, MalformedUpload, DatasetTooLarge, DatasetInvalid, ValidationFailed
    ),
    openapi_extra=UPLOAD_BODY,
)
async def create_dataset(
    request: Request,
    user: BriefUser,
    database: DatabaseDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> DatasetRead:
    """Upload a JSONL file of chat examples (multipart `file`, `name`, `description`); it is
    validated as it streams in, and nothing is kept unless it is valid."""
    async with datasets.ingest(storage, settings) as ingestion:
        upload = await read_upload(request, ingestion)
        dataset = await datasets.save_upload(
            database,
            storage=storage,
            owner_id=user.id,
            name=upload.fields.name,
            description=upload.fields.description,
            filename=upload.filename,
            ingestion=ingestion,
        )
    return DatasetRead.model_validate(dataset)


@router.get("", responses=responses(*AUTH_ERRORS, ValidationFailed))
async def list_datasets(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[DatasetRead]:
    """List your datasets, newest first."""
    rows, total = await datasets.list_datasets(session, owner=user, page=page)
    items = [DatasetRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{dataset_id}", responses=responses(*ERRORS, ValidationFailed))
async def get_dataset(dataset: OwnedDataset) -> DatasetRead:
    """A dataset: its name, file and what validation counted."""
    return DatasetRead.model_validate(dataset)


@router.get(
    "/{dataset_id}/preview", responses=responses(*ERRORS, DatasetFileMissing, ValidationFailed)
)
async def preview_dataset(
    dataset: OwnedDataset,
    storage: StorageDep,
    limit: Annotated[int, Query(ge=1, le=50, description="Examples to show (1-50).")] = 5,
) -> DatasetPreview:
    """The first examples of a dataset, parsed."""
    items = await datasets.preview_dataset(storage, dataset=dataset, limit=limit)
    return DatasetPreview(items=items, limit=limit, n_examples=dataset.n_examples)


@router.get(
    "/{dataset_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"content": {JSONL: {}}, "description": "The file as uploaded."},
        **responses(*ERRORS, DatasetFileMissing, ValidationFailed),
    },
)
async def get_dataset_content(dataset: OwnedDataset, storage: StorageDep) -> StreamingResponse:
    """Download a dataset's file, streamed."""
    chunks = await datasets.open_content(storage, dataset=dataset)
    return StreamingResponse(
        chunks,
        media_type=JSONL,
        headers={
            "Content-Disposition": content_disposition(dataset.filename),
            "Content-Length": str(dataset.bytes),
        },
    )


@router.patch("/{dataset_id}", responses=responses(*ERRORS, ValidationFailed))
async def update_dataset(
    payload: DatasetUpdate, dataset: OwnedDataset, session: SessionDep
) -> DatasetRead:
    """Rename a dataset or change its description."""
    return DatasetRead.model_validate(
        await datasets.update_dataset(session, dataset=dataset, data=payload)
    )


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*ERRORS, ValidationFailed),
)
async def delete_dataset(dataset: OwnedDataset, session: SessionDep, storage: StorageDep) -> None:
    """Delete a dataset; its file goes too unless another dataset has the same content."""
    await datasets.delete_dataset(session, storage=storage, dataset=dataset)
