"""Settings from the environment, the production start-up checks and the development secret."""

import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from colloquy.app import create_app
from colloquy.core.database import async_url
from colloquy.core.settings import DEV_SECRET_FILE, ConfigError, Environment, Settings
from tests.conftest import make_settings
from tests.core.apps import empty_tables, running_app
from tests.support import PASSWORD, make_account

GOOD_SECRET = "k" * 48
ENVIRONMENT_NAMES = (
    "DATABASE_URL",
    "REDIS_URL",
    "COLLOQUY_DATABASE_URL",
    "COLLOQUY_REDIS_URL",
    "COLLOQUY_ENV",
    "COLLOQUY_SECRET_KEY",
    "COLLOQUY_CORS_ORIGINS",
    "COLLOQUY_TRUSTED_PROXIES",
    "COLLOQUY_CORS_ALLOW_CREDENTIALS",
    "COLLOQUY_VAR_DIR",
    "COLLOQUY_QUEUE_URL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT_NAMES:
        monkeypatch.delenv(name, raising=False)


def _production(tmp_path: Path, **values: Any) -> Settings:
    values.setdefault("secret_key", GOOD_SECRET)
    return Settings(
        _env_file=None,
        env=Environment.PRODUCTION,
        var_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        **values,
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": None}, "must be set in production"),
        ({"secret_key": "too-short-" + "x" * 21}, "at least 32 bytes"),
        ({"secret_key": ""}, "at least 32 bytes"),
        ({"secret_key": "changeme"}, "placeholder"),
        ({"secret_key": "  CHANGEME "}, "placeholder"),
        ({"secret_key": "secret"}, "placeholder"),
        (
            {"cors_origins": ["*"], "cors_allow_credentials": True},
            "allows any origin with credentials",
        ),
    ],
    ids=["missing", "short", "empty", "changeme", "changeme-padded", "secret", "cors-any"],
)
def test_production_refuses_unsafe_configuration(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    settings = _production(tmp_path, **values)
    with pytest.raises(ConfigError, match=message) as raised:
        create_app(settings)
    assert "COLLOQUY_" in str(raised.value)


def test_production_refuses_the_development_secret(tmp_path: Path) -> None:
    development = Settings(_env_file=None, var_dir=tmp_path / "var")
    dev_secret = development.signing_key
    assert (tmp_path / "var" / DEV_SECRET_FILE).read_text().strip() == dev_secret
    with pytest.raises(ConfigError, match="development secret"):
        create_app(_production(tmp_path, secret_key=dev_secret))


def test_production_secret_is_never_generated(tmp_path: Path) -> None:
    settings = _production(tmp_path, secret_key=None)
    with pytest.raises(ConfigError, match="must be set in production"):
        _ = settings.signing_key
    assert not (tmp_path / "var" / DEV_SECRET_FILE).exists()


def test_good_production_configuration_builds(tmp_path: Path) -> None:
    settings = _production(
        tmp_path,
        cors_origins=["https://app.example"],
        cors_allow_credentials=True,
    )
    app = create_app(settings)
    assert app.state.settings.is_production
    assert settings.signing_key == GOOD_SECRET


def test_wildcard_cors_without_credentials_is_allowed_in_production(tmp_path: Path) -> None:
    create_app(_production(tmp_path, cors_origins=["*"], cors_allow_credentials=False))


def test_development_allows_what_production_refuses(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        var_dir=tmp_path / "var",
        secret_key=SecretStr("changeme"),
        cors_origins=["*"],
        cors_allow_credentials=True,
    )
    assert settings.env is Environment.DEVELOPMENT
    settings.check()


def test_comma_separated_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLOQUY_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("COLLOQUY_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")
    settings = Settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert [str(network) for network in settings.trusted_networks] == [
        "10.0.0.0/8",
        "127.0.0.1/32",
    ]


def test_empty_and_ragged_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLOQUY_CORS_ORIGINS", "")
    monkeypatch.setenv("COLLOQUY_TRUSTED_PROXIES", " ,::1, ,fd00::/8,")
    settings = Settings(_env_file=None)
    assert settings.cors_origins == []
    assert settings.trusted_proxies == ["::1", "fd00::/8"]


def test_list_settings_accept_lists(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, cors_origins=["https://a.example"], trusted_proxies=[])
    assert settings.cors_origins == ["https://a.example"]
    assert settings.trusted_networks == ()


def test_plain_database_and_redis_urls_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@127.0.0.1:5432/app")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/2")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql://app@127.0.0.1:5432/app"
    assert settings.redis_url == "redis://127.0.0.1:6379/2"


def test_prefixed_urls_win_over_plain_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://plain@127.0.0.1/app")
    monkeypatch.setenv("COLLOQUY_DATABASE_URL", "postgresql://prefixed@127.0.0.1/app")
    assert Settings(_env_file=None).database_url == "postgresql://prefixed@127.0.0.1/app"


def test_defaults_without_environment() -> None:
    settings = Settings(_env_file=None)
    assert settings.env is Environment.DEVELOPMENT
    assert settings.redis_url is None
    assert settings.database_url.startswith("sqlite:///")
    assert settings.max_body_size == 1024 * 1024
    assert settings.cors_origins == []
    assert settings.trusted_proxies == ["127.0.0.1"]


def test_settings_from_the_environment_are_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLOQUY_ENV", "production")
    monkeypatch.setenv("COLLOQUY_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("COLLOQUY_CORS_ALLOW_CREDENTIALS", "true")
    settings = Settings(_env_file=None)
    assert settings.is_production
    assert settings.cors_allow_credentials is True
    assert GOOD_SECRET not in repr(settings)


@pytest.mark.parametrize(
    "value", ["10.0.0.0/33", "not-a-network", "10.0.0.0/8,nope", "300.1.1.1", "::1/129"]
)
def test_invalid_trusted_proxy_is_a_validation_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("COLLOQUY_TRUSTED_PROXIES", value)
    with pytest.raises(ValidationError, match="not an address or CIDR range"):
        Settings(_env_file=None)


def test_invalid_trusted_proxy_given_directly_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(_env_file=None, trusted_proxies=["10.0.0.0/8", "bad"])


@pytest.mark.parametrize("rate", ["often", "10 per", "", "ten/minute"])
def test_invalid_rate_limit_is_a_validation_error(rate: str) -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        Settings(_env_file=None, login_rate_limit=rate)


@pytest.mark.parametrize(
    "values",
    [{"port": 0}, {"max_body_size": 10}, {"access_token_ttl": 1}, {"env": "staging"}],
    ids=["port", "body-size", "token-ttl", "env"],
)
def test_out_of_range_values_are_validation_errors(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **values)


def test_settings_are_frozen() -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(ValidationError):
        settings.port = 9000  # type: ignore[misc]


def test_development_secret_is_generated_once_and_reused(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    first = Settings(_env_file=None, var_dir=var_dir).signing_key
    second = Settings(_env_file=None, var_dir=var_dir).signing_key
    assert first == second
    assert len(first.encode()) >= 32
    secret_file = var_dir / DEV_SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    elsewhere = Settings(_env_file=None, var_dir=tmp_path / "other").signing_key
    assert elsewhere != first


def test_configured_secret_wins_over_the_development_file(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    settings = Settings(_env_file=None, var_dir=var_dir, secret_key=SecretStr(GOOD_SECRET))
    assert settings.signing_key == GOOD_SECRET
    assert not (var_dir / DEV_SECRET_FILE).exists()


async def test_tokens_survive_a_restart_with_the_development_secret(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path / "var", secret_key=None)
    other = make_settings(database_url, tmp_path / "other-var", secret_key=None)
    try:
        async with running_app(settings, keep_rows=True) as (_, client):
            account = await make_account(client, password=PASSWORD)
        assert (tmp_path / "var" / DEV_SECRET_FILE).exists()

        async with running_app(settings, keep_rows=True) as (_, client):
            me = await client.get("/api/v1/users/me", headers=account.headers)
            assert me.status_code == 200, me.text
            assert me.json()["id"] == account.id

        async with running_app(other, keep_rows=True) as (_, client):
            refused = await client.get("/api/v1/users/me", headers=account.headers)
            assert refused.status_code == 401
    finally:
        await empty_tables(settings)


@pytest.mark.parametrize(
    ("url", "driver", "database"),
    [
        ("postgresql://u:p@127.0.0.1:5432/app", "postgresql+asyncpg", "app"),
        ("postgres://u:p@127.0.0.1/app", "postgresql+asyncpg", "app"),
        ("postgresql+psycopg://u@127.0.0.1/app", "postgresql+asyncpg", "app"),
        ("sqlite:///x", "sqlite+aiosqlite", "x"),
        ("sqlite:////var/lib/colloquy.db", "sqlite+aiosqlite", "/var/lib/colloquy.db"),
        ("sqlite://", "sqlite+aiosqlite", None),
    ],
)
def test_async_url_names_the_async_driver(url: str, driver: str, database: str | None) -> None:
    target = async_url(url)
    assert target.drivername == driver
    assert target.database == database


def test_async_url_keeps_credentials_and_maps_sslmode() -> None:
    target = async_url("postgresql://user:pa%40ss@127.0.0.1:6543/app?sslmode=require")
    assert target.username == "user"
    assert target.password == "pa@ss"
    assert target.port == 6543
    assert dict(target.query) == {"ssl": "require"}


def test_async_url_refuses_other_databases() -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        async_url("mysql://u@127.0.0.1/app")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("postgresql+asyncpg://app@db/app", "postgresql://app@db/app"),
        ("postgres://app@db/app", "postgresql://app@db/app"),
        ("redis://cache:6379/1", "redis://cache:6379/1"),
        ("", None),
    ],
)
def test_the_queue_url_is_postgresql_or_redis(given: str, expected: str | None) -> None:
    assert Settings(_env_file=None, queue_url=given).queue_url == expected


@pytest.mark.parametrize("url", ["sqlite:///var/colloquy.db", "amqp://rabbit/", "db.internal"])
def test_other_queue_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="postgresql:// or redis://"):
        Settings(_env_file=None, queue_url=url)
