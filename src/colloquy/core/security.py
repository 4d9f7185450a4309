"""Passwords (Argon2id, hashed off the event loop), access tokens (JWT) and opaque token digests."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from colloquy.core.settings import Settings

JWT_ALGORITHM = "HS256"
ACCESS = "access"


class PasswordHasher:
    """Argon2id hashing in worker threads, bounded so a burst of logins cannot exhaust memory."""

    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost,
                    memory_cost=settings.argon2_memory_cost,
                    parallelism=settings.argon2_parallelism,
                ),
            )
        )
        self._limiter = anyio.CapacityLimiter(settings.password_hash_concurrency)
        # Checked when an email is unknown, so a miss costs what a wrong password costs.
        self._dummy_hash = self._hash.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Check a password; the second value is a new hash when the parameters have changed."""
        target = password_hash or self._dummy_hash
        valid, updated = await anyio.to_thread.run_sync(
            self._hash.verify_and_update, password, target, limiter=self._limiter
        )
        if password_hash is None:
            return False, None
        return valid, updated


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    expires_at: datetime


class InvalidToken(Exception):
    """The token is malformed, expired, forged or of the wrong type."""


class TokenSigner:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.signing_key
        self.access_ttl = timedelta(seconds=settings.access_token_ttl)

    def issue_access(self, *, user_id: uuid.UUID, session_id: uuid.UUID) -> tuple[str, int]:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": now,
            "exp": now + self.access_ttl,
            "jti": secrets.token_urlsafe(16),
            "type": ACCESS,
        }
        token = jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)
        return token, int(self.access_ttl.total_seconds())

    def read_access(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["sub", "sid", "exp", "iat", "jti", "type"]},
            )
            if claims["type"] != ACCESS:
                raise InvalidToken("not an access token")
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                token_id=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidToken(str(exc)) from exc


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Opaque tokens are high-entropy, so a plain SHA-256 digest is a safe lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()
