"""Errors the datasets domain raises."""

from collections.abc import Mapping, Sequence
from typing import Any

from colloquy.core.errors import AppError, BadRequest, Conflict, NotFound, ValidationFailed


class DatasetNotFound(NotFound):
    code = "dataset_not_found"
    default_detail = "No such dataset."


class DatasetInvalid(ValidationFailed):
    """The file is not a usable dataset; `errors` names the lines, nothing was kept."""

    code = "invalid_dataset"
    default_detail = "The file is not a valid dataset of JSONL chat examples."

    def __init__(self, *, errors: Sequence[Mapping[str, Any]], error_count: int) -> None:
        super().__init__(
            f"The file is not a valid dataset: {error_count} problem(s); "
            "the first are listed in `errors`.",
            errors=errors,
        )
        self.extra["error_count"] = error_count


class DatasetTooLarge(AppError):
    status = 413
    code = "dataset_too_large"
    title = "Content Too Large"
    default_detail = "The dataset is larger than allowed."


class MalformedUpload(BadRequest):
    code = "malformed_upload"
    default_detail = "The body is not a multipart/form-data upload with a `file` part."


class DatasetInUse(Conflict):
    """Raised by the checks other domains register: a job still needs the dataset."""

    code = "dataset_in_use"
    default_detail = "The dataset is used by a fine-tuning job that has not finished."


class DatasetFileMissing(AppError):
    code = "dataset_file_missing"
    default_detail = "The dataset's file is missing from storage."
