"""OpenAI's bodies for `/v1/files` and `/v1/fine_tuning/jobs`: files, jobs, their events and
checkpoints, and the cursor-paged lists they come in."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from colloquy.fine_tuning.schemas import Suffix

Auto = Literal["auto"]


class FileFields(BaseModel):
    """The form fields that come with a file; others OpenAI knows (`expires_after`) are ignored."""

    model_config = ConfigDict(extra="ignore")

    purpose: Literal["fine-tune"] = Field(description="Only fine-tuning files are kept here.")


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: Literal["fine-tune"] = "fine-tune"
    status: Literal["processed"] = "processed"
    status_details: str | None = None
    expires_at: int | None = None


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool
    first_id: str | None
    last_id: str | None


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


class HyperparametersRequest(BaseModel):
    """OpenAI's hyperparameters; `auto` (or leaving one out) takes this server's default."""

    model_config = ConfigDict(extra="ignore")

    n_epochs: Auto | int = "auto"
    batch_size: Auto | int = "auto"
    learning_rate_multiplier: Auto | float = Field(
        default="auto", description="Times this server's default learning rate."
    )


class SupervisedRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    hyperparameters: HyperparametersRequest | None = None


class MethodRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["supervised"] = Field(description="Only supervised fine-tuning is offered.")
    supervised: SupervisedRequest | None = None


class JobCreateRequest(BaseModel):
    """OpenAI's fine-tuning job request; `metadata` and `integrations` are accepted and unused."""

    model_config = ConfigDict(extra="ignore")

    model: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    training_file: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    validation_file: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    hyperparameters: HyperparametersRequest | None = None
    method: MethodRequest | None = None
    suffix: Suffix | None = None
    seed: int | None = None

    @property
    def chosen_hyperparameters(self) -> HyperparametersRequest:
        """`method.supervised.hyperparameters` when given, else the older top-level field."""
        if self.method and self.method.supervised and self.method.supervised.hyperparameters:
            return self.method.supervised.hyperparameters
        return self.hyperparameters or HyperparametersRequest()


class JobHyperparameters(BaseModel):
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float


class SupervisedMethod(BaseModel):
    hyperparameters: JobHyperparameters


class JobMethod(BaseModel):
    type: Literal["supervised"] = "supervised"
    supervised: SupervisedMethod


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    model: str
    created_at: int
    finished_at: int | None
    fine_tuned_model: str | None
    organization_id: str
    result_files: list[str] = Field(default_factory=list)
    status: Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
    # Null once the file was deleted after the job finished.
    training_file: str | None
    validation_file: str | None
    hyperparameters: JobHyperparameters
    method: JobMethod
    trained_tokens: int | None
    error: JobError | None
    seed: int
    estimated_finish: int | None = None
    integrations: list[Any] = Field(default_factory=list)
    metadata: dict[str, str] | None = None
    user_provided_suffix: str | None


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class JobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"]
    data: dict[str, Any]


class EventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEvent]
    has_more: bool


class CheckpointMetrics(BaseModel):
    step: float
    train_loss: float | None = None
    valid_loss: float | None = None
    train_mean_token_accuracy: float | None = None


class JobCheckpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str = Field(
        description="A name for the checkpoint; only the job's final model is served."
    )
    step_number: int
    metrics: CheckpointMetrics
    fine_tuning_job_id: str


class CheckpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobCheckpoint]
    has_more: bool
    first_id: str | None
    last_id: str | None
