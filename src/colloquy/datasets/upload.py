"""Reading a multipart upload as it arrives: the `file` part goes chunk by chunk into an
ingestion, the small text fields are collected. The body is never held whole."""

from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from colloquy.core.dependencies import API_PREFIX
from colloquy.core.errors import ValidationFailed
from colloquy.core.settings import Settings
from colloquy.datasets.errors import MalformedUpload
from colloquy.datasets.schemas import DatasetFields
from colloquy.datasets.service import Ingestion

UPLOAD_PATH = f"{API_PREFIX}/datasets"
FILE_FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 8
FieldsT = TypeVar("FieldsT", bound=BaseModel)
# Room for the text fields and multipart framing on top of the largest file.
FORM_OVERHEAD = MAX_FIELDS * MAX_FIELD_BYTES + 64 * 1024

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "JSONL: one chat example per line.",
                        },
                        "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        "description": {"type": "string", "maxLength": 10000},
                    },
                }
            }
        },
    }
}


def upload_body_limit(settings: Settings) -> int:
    """The largest body an upload route takes: the dataset limit and room for the form."""
    return settings.dataset_max_bytes + FORM_OVERHEAD


def body_size_allowances(settings: Settings) -> dict[str, int]:
    """The upload route takes bodies up to the dataset limit, not the global one."""
    return {UPLOAD_PATH: upload_body_limit(settings)}


@dataclass
class Form:
    """A streamed form's text fields and the file's name as the client gave it."""

    fields: dict[str, str]
    filename: str | None


@dataclass
class Upload:
    fields: DatasetFields
    filename: str | None


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    is_file: bool = False
    data: bytearray = field(default_factory=bytearray)


class _Reader:
    """python-multipart's callbacks are synchronous: they queue file bytes for `read` to write."""

    def __init__(self) -> None:
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.fields: dict[str, str] = {}
        self.file_seen = False
        self.filename: str | None = None
        self.pending: list[bytes] = []
        self.ended = False

    def on_part_begin(self) -> None:
        self.part = _Part()
        self.disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise MalformedUpload("Every part needs a Content-Disposition with a name.")
        self.part.name = options[b"name"].decode("utf-8", "replace")
        if self.part.name == FILE_FIELD:
            if self.file_seen:
                raise MalformedUpload("Send one `file` part.")
            self.file_seen = True
            self.part.is_file = True
            raw = options.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else None
        elif b"filename" in options:
            raise MalformedUpload(f"Unexpected file part {self.part.name!r}; send it as `file`.")
        elif self.part.name in self.fields or len(self.fields) >= MAX_FIELDS:
            raise MalformedUpload(f"Unexpected or repeated field {self.part.name!r}.")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.is_file:
            self.pending.append(data[start:end])
            return
        self.part.data += data[start:end]
        if len(self.part.data) > MAX_FIELD_BYTES:
            raise MalformedUpload(f"The field {self.part.name!r} is too long.")

    def on_part_end(self) -> None:
        if not self.part.is_file:
            self.fields[self.part.name] = self.part.data.decode("utf-8", "replace")

    def on_end(self) -> None:
        self.ended = True


def _boundary(request: Request) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise MalformedUpload
    return boundary


async def read_upload(request: Request, ingestion: Ingestion) -> Upload:
    """Stream the body: the file into `ingestion`, the fields checked like any request body."""
    form = await read_form(request, ingestion)
    return Upload(fields=form_fields(DatasetFields, form.fields), filename=form.filename)


async def read_form(request: Request, ingestion: Ingestion) -> Form:
    """Stream a multipart body: its `file` part into `ingestion`, its text fields as they are."""
    reader = _Reader()
    parser = MultipartParser(
        _boundary(request),
        {
            "on_part_begin": reader.on_part_begin,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
            "on_end": reader.on_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if reader.pending:
                data = b"".join(reader.pending)
                reader.pending.clear()
                await ingestion.write(data)
        parser.finalize()
    except FormParserError as exc:
        raise MalformedUpload("The multipart body is not well formed.") from exc
    if not reader.ended:
        raise MalformedUpload("The multipart body ended early.")
    if not reader.file_seen:
        raise MalformedUpload("The upload has no `file` part.")
    return Form(fields=reader.fields, filename=reader.filename)


def form_fields(schema: type[FieldsT], values: dict[str, str]) -> FieldsT:
    """A form's text fields checked against `schema`, failing as a request body would."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors()
        ]
        raise ValidationFailed(errors=errors) from exc
