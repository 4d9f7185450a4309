"""Errors of the model registry and of calling providers."""

from colloquy.core.errors import AppError, Conflict, NotFound, ValidationFailed


class ModelNotFound(NotFound):
    code = "model_not_found"
    default_detail = "No such model."


class ModelNameTaken(Conflict):
    code = "model_name_taken"
    default_detail = "A model with this name already exists."


class NoDefaultModel(ValidationFailed):
    code = "no_model"
    default_detail = "No model was named and no default model is configured."

    def __init__(self) -> None:
        super().__init__(errors=[{"loc": ["body", "model_id"], "msg": self.default_detail}])


class ProviderFailed(AppError):
    status = 502
    code = "provider_error"
    title = "Bad Gateway"
    default_detail = "The model provider failed."
