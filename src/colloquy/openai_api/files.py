"""OpenAI's `/v1/files` for fine-tuning: an uploaded file is one of your datasets, validated as
it streams in."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from colloquy.accounts.dependencies import BriefUser, CurrentUser
from colloquy.core.dependencies import DatabaseDep, SessionDep, SettingsDep
from colloquy.core.settings import Settings
from colloquy.datasets import service as datasets
from colloquy.datasets.dependencies import StorageDep
from colloquy.datasets.models import Dataset
from colloquy.datasets.upload import form_fields, read_form, upload_body_limit
from colloquy.openai_api import training
from colloquy.openai_api.training_schemas import FileDeleted, FileFields, FileList, FileObject

FILES_PATH = "/v1/files"
FINE_TUNE = "fine-tune"

router = APIRouter(prefix=FILES_PATH, tags=["openai"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "JSONL: one chat example per line.",
                        },
                        "purpose": {"type": "string", "enum": [FINE_TUNE]},
                    },
                }
            }
        },
    }
}


def body_size_allowances(settings: Settings) -> dict[str, int]:
    """Uploads here take bodies up to the dataset limit, as the datasets route does."""
    return {FILES_PATH: upload_body_limit(settings)}


async def get_owned_file(file_id: str, user: CurrentUser, session: SessionDep) -> Dataset:
    return await training.get_file(session, owner=user, file_id=file_id)


OwnedFile = Annotated[Dataset, Depends(get_owned_file)]


@router.post("", openapi_extra=UPLOAD_BODY)
async def create_file(
    request: Request,
    user: BriefUser,
    database: DatabaseDep,
    settings: SettingsDep,
    storage: StorageDep,
) -> FileObject:
    """Upload a JSONL file of chat examples with `purpose` "fine-tune"; it becomes a dataset,
    and nothing is kept unless it is valid."""
    async with datasets.ingest(storage, settings) as ingestion:
        form = await read_form(request, ingestion)
        form_fields(FileFields, form.fields)
        dataset = await datasets.save_upload(
            database,
            storage=storage,
            owner_id=user.id,
            name=training.dataset_name(form.filename),
            description="",
            filename=form.filename,
            ingestion=ingestion,
        )
    return training.file_object(dataset)


@router.get("")
async def list_files(
    user: CurrentUser,
    session: SessionDep,
    purpose: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
) -> FileList:
    """Your files (all of them fine-tuning datasets), newest first unless `order` is "asc"."""
    rows: list[Dataset] = []
    has_more = False
    if purpose in (None, FINE_TUNE):
        rows, has_more = await training.list_files(
            session, owner=user, after=after, limit=limit, newest_first=order == "desc"
        )
    files = [training.file_object(row) for row in rows]
    return FileList(
        data=files,
        has_more=has_more,
        first_id=files[0].id if files else None,
        last_id=files[-1].id if files else None,
    )


@router.get("/{file_id}")
async def get_file(dataset: OwnedFile) -> FileObject:
    """One of your files."""
    return training.file_object(dataset)


@router.delete("/{file_id}")
async def delete_file(dataset: OwnedFile, session: SessionDep, storage: StorageDep) -> FileDeleted:
    """Delete a file; refused (409) while a queued or running job uses it."""
    await datasets.delete_dataset(session, storage=storage, dataset=dataset)
    return FileDeleted(id=training.public_id(training.FILE_PREFIX, dataset.id))


@router.get("/{file_id}/content", response_class=StreamingResponse)
async def get_file_content(dataset: OwnedFile, storage: StorageDep) -> StreamingResponse:
    """A file's bytes as uploaded, streamed."""
    chunks = await datasets.open_content(storage, dataset=dataset)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(dataset.bytes)},
    )
