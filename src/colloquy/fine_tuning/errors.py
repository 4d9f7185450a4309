"""Errors the fine-tuning domain raises."""

from colloquy.core.errors import AppError, Conflict, NotFound, ValidationFailed


class JobNotFound(NotFound):
    code = "job_not_found"
    default_detail = "No such fine-tuning job."


class JobFinished(Conflict):
    code = "job_finished"
    default_detail = "The job has already finished."


class TooManyJobs(AppError):
    status = 429
    code = "too_many_jobs"
    title = "Too Many Requests"
    default_detail = "You have as many queued and running fine-tuning jobs as allowed."


class ModelNotTrainable(ValidationFailed):
    """The base model cannot be fine-tuned here; the detail says why."""

    code = "model_not_trainable"
    default_detail = "This model cannot be fine-tuned."

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"loc": ["body", "model"], "msg": detail}])


class EventNotFound(NotFound):
    code = "event_not_found"
    default_detail = "No such event of this fine-tuning job."


class CheckpointNotFound(NotFound):
    code = "checkpoint_not_found"
    default_detail = "No such checkpoint of this fine-tuning job."
