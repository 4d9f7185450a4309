"""Provider configuration: a JSON list in COLLOQUY_PROVIDERS or a JSON file; secrets by variable."""

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from colloquy.core.settings import ConfigError, Settings

ProviderName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class ProviderKind(StrEnum):
    OPENAI = "openai"
    LOCAL = "local"
    DEV = "dev"


class ProviderConfig(BaseModel):
    """One configured provider. The API key is named by an environment variable, never inline."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: ProviderName
    kind: ProviderKind
    base_url: str | None = None
    api_key_env: str | None = None
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


BUILT_IN = (
    ProviderConfig(name="dev", kind=ProviderKind.DEV),
    ProviderConfig(name="local", kind=ProviderKind.LOCAL),
)

_LIST = TypeAdapter(list[ProviderConfig])


def load_provider_configs(settings: Settings) -> list[ProviderConfig]:
    """The built-in providers plus the configured ones (a configured name replaces a built-in)."""
    raw: str | None = settings.providers
    if settings.providers_file is not None:
        try:
            raw = Path(settings.providers_file).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read COLLOQUY_PROVIDERS_FILE: {exc}") from exc
    configured: list[ProviderConfig] = []
    if raw:
        try:
            configured = _LIST.validate_python(json.loads(raw))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ConfigError(f"invalid provider configuration: {exc}") from exc
    by_name = {config.name: config for config in BUILT_IN}
    for config in configured:
        if config.kind is ProviderKind.OPENAI and not config.base_url:
            raise ConfigError(f"provider {config.name!r}: an openai provider needs base_url")
        by_name[config.name] = config
    return list(by_name.values())
