"""The providers that generate text, and the registry the app builds from configuration."""

from collections.abc import Iterable
from dataclasses import dataclass

from colloquy.core.settings import Settings
from colloquy.llm.config import ProviderConfig, ProviderKind, load_provider_configs
from colloquy.llm.providers.base import (
    Chunk,
    Finish,
    GenerationRequest,
    Provider,
    ProviderError,
    ProviderInfo,
    TextDelta,
    Usage,
)
from colloquy.llm.providers.dev import DevProvider
from colloquy.llm.providers.local import LocalProvider
from colloquy.llm.providers.openai_compatible import OpenAICompatibleProvider


class ProviderNotConfigured(ProviderError):
    """No provider of that name exists (or it is switched off)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no provider named {name!r} is configured", provider=name)


def build_provider(config: ProviderConfig, settings: Settings) -> Provider:
    """The provider one configuration entry describes."""
    match config.kind:
        case ProviderKind.DEV:
            return DevProvider(config.name, delay_ms=settings.dev_model_delay_ms)
        case ProviderKind.LOCAL:
            return LocalProvider(settings.model_dirs, name=config.name)
        case ProviderKind.OPENAI:
            return OpenAICompatibleProvider(config)


class ProviderRegistry:
    """The providers by name; created in the app's lifespan and closed with it."""

    def __init__(self, providers: Iterable[Provider] = ()) -> None:
        self._providers: dict[str, Provider] = {}
        for provider in providers:
            self.register(provider)

    @classmethod
    def from_configs(
        cls, configs: Iterable[ProviderConfig], settings: Settings
    ) -> "ProviderRegistry":
        """Providers for these entries; the development model only while it is switched on."""
        return cls(
            build_provider(config, settings)
            for config in configs
            if config.kind is not ProviderKind.DEV or settings.dev_model_on
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "ProviderRegistry":
        return cls.from_configs(load_provider_configs(settings), settings)

    def register(self, provider: Provider) -> None:
        """Add a provider, replacing one of the same name."""
        self._providers[provider.name] = provider

    def get(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            raise ProviderNotConfigured(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def names(self) -> list[str]:
        return list(self._providers)

    def infos(self) -> list[ProviderInfo]:
        """What may be shown about each provider: never a secret."""
        return [_info(provider) for provider in self._providers.values()]

    async def aclose(self) -> None:
        """Close every provider, even when closing one fails."""
        errors: list[Exception] = []
        for provider in self._providers.values():
            try:
                await provider.aclose()
            except Exception as exc:  # the others must still be closed
                errors.append(exc)
        if errors:
            raise ExceptionGroup("closing providers failed", errors)


def _info(provider: Provider) -> ProviderInfo:
    describe = getattr(provider, "info", None)
    if callable(describe):
        info = describe()
        if isinstance(info, ProviderInfo):
            return info
    return ProviderInfo(name=provider.name, kind=provider.kind)


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole reply, for callers that do not stream."""

    text: str
    usage: Usage
    finish_reason: str


async def collect(provider: Provider, request: GenerationRequest) -> Completion:
    """The whole reply to `request`, read from the provider's stream."""
    parts: list[str] = []
    usage: Usage | None = None
    finish: Finish | None = None
    chunks = provider.stream(request)
    try:
        async for chunk in chunks:
            match chunk:
                case TextDelta(text=text):
                    parts.append(text)
                case Usage():
                    usage = chunk
                case Finish():
                    finish = chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    if usage is None or finish is None:
        raise ProviderError("the reply ended without usage or a finish", provider=provider.name)
    return Completion(text="".join(parts), usage=usage, finish_reason=finish.reason)


__all__ = [
    "Chunk",
    "Completion",
    "DevProvider",
    "Finish",
    "GenerationRequest",
    "LocalProvider",
    "OpenAICompatibleProvider",
    "Provider",
    "ProviderError",
    "ProviderInfo",
    "ProviderNotConfigured",
    "ProviderRegistry",
    "TextDelta",
    "Usage",
    "build_provider",
    "collect",
]
