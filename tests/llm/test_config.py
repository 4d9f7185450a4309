"""Provider configuration and the registry built from it."""

import json
from pathlib import Path
from typing import Any

import pytest

from colloquy.core.settings import ConfigError, Settings
from colloquy.llm.config import ProviderConfig, ProviderKind, load_provider_configs
from colloquy.llm.providers import (
    DevProvider,
    LocalProvider,
    OpenAICompatibleProvider,
    ProviderError,
    ProviderNotConfigured,
    ProviderRegistry,
    collect,
)
from colloquy.llm.providers.base import ChatMessage, GenerationRequest, ProviderInfo

SECRET = "sk-live-do-not-show-0123456789"
UPSTREAM = {
    "name": "upstream",
    "kind": "openai",
    "base_url": "http://127.0.0.1:8001/v1",
    "api_key_env": "COLLOQUY_TEST_UPSTREAM_KEY",
}


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.fixture(autouse=True)
def upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLLOQUY_PROVIDERS", raising=False)
    monkeypatch.delenv("COLLOQUY_PROVIDERS_FILE", raising=False)
    monkeypatch.setenv("COLLOQUY_TEST_UPSTREAM_KEY", SECRET)


def test_without_configuration_there_are_the_built_in_providers() -> None:
    configs = load_provider_configs(settings())

    assert [(c.name, c.kind) for c in configs] == [
        ("dev", ProviderKind.DEV),
        ("local", ProviderKind.LOCAL),
    ]


def test_reads_a_json_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLOQUY_PROVIDERS", json.dumps([UPSTREAM]))

    configs = {c.name: c for c in load_provider_configs(settings())}

    assert configs["upstream"].base_url == UPSTREAM["base_url"]
    assert configs["upstream"].api_key() == SECRET
    assert set(configs) == {"dev", "local", "upstream"}


def test_reads_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps([{**UPSTREAM, "max_retries": 5, "read_timeout": 30}]))

    configs = {c.name: c for c in load_provider_configs(settings(providers_file=path))}

    assert configs["upstream"].max_retries == 5
    assert configs["upstream"].read_timeout == 30


def test_a_configured_name_replaces_a_built_in() -> None:
    raw = json.dumps([{"name": "dev", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"}])

    configs = {c.name: c for c in load_provider_configs(settings(providers=raw))}

    assert configs["dev"].kind is ProviderKind.OPENAI


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        json.dumps({"name": "x"}),
        json.dumps([{"name": "x", "kind": "nonsense"}]),
        json.dumps([{**UPSTREAM, "api_key": SECRET}]),
        json.dumps([{**UPSTREAM, "name": "Bad Name"}]),
        json.dumps([{**UPSTREAM, "max_retries": -1}]),
    ],
)
def test_bad_configuration_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="invalid provider configuration"):
        load_provider_configs(settings(providers=raw))


def test_an_openai_provider_needs_a_base_url() -> None:
    raw = json.dumps([{"name": "upstream", "kind": "openai"}])

    with pytest.raises(ConfigError, match="needs base_url"):
        load_provider_configs(settings(providers=raw))


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_provider_configs(settings(providers_file=tmp_path / "missing.json"))


async def test_the_registry_builds_each_kind(tmp_path: Path) -> None:
    config = settings(
        providers=json.dumps([UPSTREAM]), model_dirs=str(tmp_path), dev_model_delay_ms=7
    )

    registry = ProviderRegistry.from_settings(config)
    try:
        dev = registry.get("dev")
        assert isinstance(dev, DevProvider)
        assert dev.delay_ms == 7
        local = registry.get("local")
        assert isinstance(local, LocalProvider)
        assert local.model_dirs == (tmp_path,)
        assert isinstance(registry.get("upstream"), OpenAICompatibleProvider)
    finally:
        await registry.aclose()


async def test_infos_and_reprs_never_show_a_secret() -> None:
    registry = ProviderRegistry.from_configs([ProviderConfig.model_validate(UPSTREAM)], settings())
    try:
        infos = registry.infos()
        assert infos == [
            ProviderInfo(name="upstream", kind="openai", base_url=UPSTREAM["base_url"])
        ]
        assert SECRET not in repr(infos)
        assert SECRET not in repr(registry.get("upstream"))
        assert SECRET not in repr(ProviderConfig.model_validate(UPSTREAM))
    finally:
        await registry.aclose()


async def test_an_unknown_provider_is_not_configured() -> None:
    registry = ProviderRegistry.from_configs(load_provider_configs(settings()), settings())

    with pytest.raises(ProviderNotConfigured) as failure:
        registry.get("nowhere")

    assert isinstance(failure.value, ProviderError)
    assert "nowhere" in failure.value.detail


async def test_the_development_model_is_absent_while_switched_off() -> None:
    off = settings(dev_model_enabled=False)

    registry = ProviderRegistry.from_configs(load_provider_configs(off), off)

    assert "dev" not in registry
    assert registry.names() == ["local"]


async def test_a_test_can_register_its_own_provider() -> None:
    registry = ProviderRegistry()
    registry.register(DevProvider("scripted", delay_ms=0))

    provider = registry.get("scripted")
    completion = await collect(
        provider, GenerationRequest(model="any", messages=[ChatMessage("user", "hi")])
    )

    assert completion.text.endswith("heard: hi")
    assert [info.name for info in registry.infos()] == ["scripted"]


async def test_closing_closes_every_provider_even_after_a_failure() -> None:
    closed: list[str] = []

    class Closing(DevProvider):
        async def aclose(self) -> None:
            closed.append(self.name)
            if self.name == "first":
                raise RuntimeError("boom")

    registry = ProviderRegistry([Closing("first"), Closing("second")])

    with pytest.raises(ExceptionGroup):
        await registry.aclose()

    assert closed == ["first", "second"]
