"""API keys: create (the secret shown once), rename, rotate with a grace period, revoke, and
resolve a presented key to its owner and scopes."""

import asyncio
import hashlib
import hmac
import secrets
import string
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts import audit
from colloquy.accounts import service as accounts
from colloquy.accounts.errors import InvalidAccessToken
from colloquy.accounts.models import User
from colloquy.core.database import Database, transaction, utcnow
from colloquy.core.network import ClientInfo
from colloquy.core.pagination import PageParams
from colloquy.core.settings import Settings
from colloquy.keys import repository
from colloquy.keys.errors import ApiKeyNotFound, KeyLimitReached
from colloquy.keys.models import ApiKey
from colloquy.keys.schemas import ApiKeyCreate, ApiKeyUpdate

log = structlog.get_logger("colloquy.keys")

KEY_PREFIX = accounts.API_KEY_PREFIX
SHOWN_PREFIX_LENGTH = 12
MAX_KEY_LENGTH = 128
KEY_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
TOUCH_INTERVAL = timedelta(seconds=60)
_DERIVATION_LABEL = b"colloquy-api-key"


def _server_secret(settings: Settings) -> bytes:
    return hmac.new(settings.signing_key.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()


def key_digest(settings: Settings, key: str) -> str:
    """A keyed digest: a leaked table cannot be checked against guesses without the server key."""
    return hmac.new(_server_secret(settings), key.encode("ascii"), hashlib.sha256).hexdigest()


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _well_formed(key: str) -> bool:
    body = key.removeprefix(KEY_PREFIX)
    return (
        key.startswith(KEY_PREFIX)
        and 0 < len(key) <= MAX_KEY_LENGTH
        and bool(body)
        and set(body) <= KEY_ALPHABET
    )


async def get_key(session: AsyncSession, *, owner: User, key_id: uuid.UUID) -> ApiKey:
    """The caller's key; another user's, or none, is ApiKeyNotFound (404)."""
    key = await repository.get_key(session, key_id=key_id, owner_id=owner.id)
    if key is None:
        raise ApiKeyNotFound
    return key


async def list_keys(
    session: AsyncSession, *, owner: User, page: PageParams
) -> tuple[Sequence[ApiKey], int]:
    return await repository.list_keys(session, owner_id=owner.id, page=page)


async def create_key(
    session: AsyncSession,
    *,
    settings: Settings,
    owner: User,
    data: ApiKeyCreate,
    client: ClientInfo,
) -> tuple[ApiKey, str]:
    """A new key and its secret, which is not stored and cannot be shown again."""
    await repository.lock_owner(session, owner.id)
    live = await repository.count_live(session, owner_id=owner.id, now=utcnow())
    if live >= settings.api_keys_per_user:
        raise KeyLimitReached
    secret = _new_key()
    key = ApiKey(
        owner_id=owner.id,
        name=data.name,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        digest=key_digest(settings, secret),
        scopes=[scope.value for scope in data.scopes],
        expires_at=data.expires_at,
        allowed_models=data.allowed_models,
        monthly_token_budget=data.monthly_token_budget,
        requests_per_minute=data.requests_per_minute,
        tokens_per_minute=data.tokens_per_minute,
    )
    session.add(key)
    await session.flush()
    await _audit(session, "api_key.create", key=key, client=client, data={"scopes": key.scopes})
    return key, secret


async def update_key(session: AsyncSession, *, key: ApiKey, data: ApiKeyUpdate) -> ApiKey:
    for field, value in data.changes().items():
        setattr(key, field, value)
    await session.flush()
    return key


async def rotate_key(
    session: AsyncSession,
    *,
    settings: Settings,
    key: ApiKey,
    grace_seconds: int,
    client: ClientInfo,
) -> str:
    """Give the key a new secret; the old one keeps working for `grace_seconds`."""
    secret = _new_key()
    if grace_seconds > 0:
        key.previous_digest = key.digest
        key.previous_valid_until = utcnow() + timedelta(seconds=grace_seconds)
    else:
        key.previous_digest = None
        key.previous_valid_until = None
    key.digest = key_digest(settings, secret)
    key.prefix = secret[:SHOWN_PREFIX_LENGTH]
    await session.flush()
    await _audit(
        session, "api_key.rotate", key=key, client=client, data={"grace_seconds": grace_seconds}
    )
    return secret


async def revoke_key(session: AsyncSession, *, key: ApiKey, client: ClientInfo) -> None:
    await _audit(session, "api_key.revoke", key=key, client=client, data={"name": key.name})
    await session.delete(key)
    await session.flush()


async def _audit(
    session: AsyncSession, action: str, *, key: ApiKey, client: ClientInfo, data: dict[str, object]
) -> None:
    await audit.record(
        session,
        action=action,
        client=client,
        actor_id=key.owner_id,
        target_type="api_key",
        target_id=key.id,
        data=data,
    )


def _secret_matches(key: ApiKey, digest: str, now: datetime) -> bool:
    if hmac.compare_digest(key.digest, digest):
        return True
    return (
        key.previous_digest is not None
        and key.previous_valid_until is not None
        and key.previous_valid_until > now
        and hmac.compare_digest(key.previous_digest, digest)
    )


Touch = Callable[[uuid.UUID, datetime, datetime, str | None], None]


async def authenticate_key(
    session: AsyncSession,
    *,
    settings: Settings,
    token: str,
    client: ClientInfo,
    touch: Touch,
) -> accounts.Authenticated:
    """The owner and scopes behind a presented key. Every failure reads the same (401)."""
    if not _well_formed(token):
        raise InvalidAccessToken
    now = utcnow()
    digest = key_digest(settings, token)
    found = await repository.find_by_digest(session, digest)
    if found is None:
        raise InvalidAccessToken
    key, user = found
    expired = key.expires_at is not None and key.expires_at <= now
    if expired or not user.is_active or not _secret_matches(key, digest, now):
        raise InvalidAccessToken
    since = now - TOUCH_INTERVAL
    if key.last_used_at is None or key.last_used_at < since:
        touch(key.id, now, since, client.ip)
    policy = accounts.KeyPolicy(
        allowed_models=frozenset(key.allowed_models) if key.allowed_models is not None else None,
        monthly_token_budget=key.monthly_token_budget,
        requests_per_minute=key.requests_per_minute,
        tokens_per_minute=key.tokens_per_minute,
    )
    return accounts.Authenticated(
        user=user, session_id=None, key_id=key.id, scopes=frozenset(key.scopes), key_policy=policy
    )


async def _record_use(
    database: Database, *, key_id: uuid.UUID, now: datetime, since: datetime, ip: str | None
) -> None:
    """In a short write transaction of its own, and at most once a minute, whichever replica is
    asked (the update only applies to a key not touched since `since`)."""
    try:
        async with transaction(database) as session:
            await repository.touch(session, key_id=key_id, now=now, since=since, ip=ip)
    except DBAPIError:
        log.warning("api_key_use_not_recorded", key_id=str(key_id))


class KeyAuthenticator:
    """What accounts calls for a bearer token that looks like an API key.

    A key's last use is written in the background, after the request's own transaction: a
    request never waits for a second connection while holding one (under a burst that would
    exhaust the pool), and one key's burst starts a single write."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._touching: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def __call__(
        self, session: AsyncSession, *, token: str, client: ClientInfo
    ) -> accounts.Authenticated:
        return await authenticate_key(
            session, settings=self._settings, token=token, client=client, touch=self._touch
        )

    def _touch(self, key_id: uuid.UUID, now: datetime, since: datetime, ip: str | None) -> None:
        if key_id in self._touching:
            return
        task = asyncio.create_task(
            _record_use(self._database, key_id=key_id, now=now, since=since, ip=ip)
        )
        self._touching[key_id] = task
        task.add_done_callback(lambda _: self._touching.pop(key_id, None))

    async def drain(self) -> None:
        """Wait for the last-use writes under way (at shutdown, and in tests)."""
        await asyncio.gather(*self._touching.values(), return_exceptions=True)
