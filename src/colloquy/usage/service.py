"""Metering model calls: admit a call against every limit that applies (reserving an estimate),
then record what it really used, once, whatever way it ended."""

import calendar
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from colloquy.accounts.models import User
from colloquy.accounts.service import Authenticated, KeyPolicy
from colloquy.core.database import utcnow
from colloquy.core.errors import QuotaExceeded, RateLimited
from colloquy.core.settings import Settings
from colloquy.llm.models import Model
from colloquy.llm.providers.base import Usage
from colloquy.usage import limits, repository
from colloquy.usage.errors import ModelNotAllowed
from colloquy.usage.limits import Hold, Meter, MeterStore, Refused
from colloquy.usage.models import UsageEvent, UsageReservation, UsageSource

log = structlog.get_logger("colloquy.usage")

RATE_LIMIT_HEADERS = [
    f"x-ratelimit-{part}-{kind}"
    for kind in ("requests", "tokens")
    for part in ("limit", "remaining", "reset")
]
# A reservation stops counting after this, should its call die without settling.
RESERVATION_TTL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Payer:
    """Who a call is charged to: a user, and the API key it came with, if any."""

    user_id: uuid.UUID
    monthly_quota: int | None
    key_id: uuid.UUID | None = None
    key: KeyPolicy | None = None

    @classmethod
    def of(cls, user: User, settings: Settings, *, caller: Authenticated | None = None) -> "Payer":
        quota = user.monthly_token_quota
        if quota is None:
            quota = settings.monthly_token_quota
        return cls(
            user_id=user.id,
            monthly_quota=quota,
            key_id=caller.key_id if caller else None,
            key=caller.key_policy if caller else None,
        )

    @property
    def key_budget(self) -> int | None:
        return self.key.monthly_token_budget if self.key else None

    @property
    def has_budget(self) -> bool:
        return self.monthly_quota is not None or self.key_budget is not None


@dataclass(slots=True)
class Admission:
    """A call let through: what it holds until it is recorded."""

    payer: Payer
    model_id: uuid.UUID
    estimate: int
    reservation_id: uuid.UUID | None = None
    hold: Hold | None = None
    headers: dict[str, str] = field(default_factory=dict)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> datetime:
    last = calendar.monthrange(day.year, day.month)[1]
    return datetime.combine(day.replace(day=last) + timedelta(days=1), time(), tzinfo=UTC)


def model_allowed(payer: Payer, model: Model, *, ref: str | None = None) -> bool:
    """A key limited to some models may call only those (by name or id, or the `ref` used)."""
    allowed = payer.key.allowed_models if payer.key else None
    if allowed is None:
        return True
    return model.name in allowed or str(model.id) in allowed or (ref is not None and ref in allowed)


def check_model(payer: Payer, model: Model, *, ref: str | None = None) -> None:
    if not model_allowed(payer, model, ref=ref):
        raise ModelNotAllowed(f"This API key may not use the model {model.name!r}.")


async def _reserve(
    session: AsyncSession, payer: Payer, *, estimate: int, now: datetime
) -> uuid.UUID | None:
    """Set `estimate` tokens aside from every monthly budget of the payer; refuse when one has
    nothing left. The user's row is locked, so one user's calls are checked one at a time."""
    if not payer.has_budget:
        return None
    await repository.lock_user(session, payer.user_id)
    await repository.purge_reservations(session, user_id=payer.user_id, now=now)
    since = month_start(now.date())
    budgets: list[tuple[int | None, uuid.UUID | None, str]] = [
        (payer.monthly_quota, None, "Your monthly token quota is used up.")
    ]
    if payer.key_id is not None:
        budgets.append(
            (payer.key_budget, payer.key_id, "This API key's monthly token budget is used up.")
        )
    for budget, key_id, message in budgets:
        if budget is None:
            continue
        used = await repository.tokens_since(
            session, user_id=payer.user_id, since=since, api_key_id=key_id
        )
        held = await repository.tokens_reserved(
            session, user_id=payer.user_id, now=now, api_key_id=key_id
        )
        if used + held >= budget:
            resets = next_month(now.date())
            wait = int((resets - now).total_seconds()) + 1
            raise QuotaExceeded(
                f"{message} It resets at {resets.isoformat()}.",
                headers={"Retry-After": str(wait)},
            )
    reservation = UsageReservation(
        user_id=payer.user_id,
        api_key_id=payer.key_id,
        tokens=estimate,
        expires_at=now + RESERVATION_TTL,
    )
    await repository.add_reservation(session, reservation)
    return reservation.id


def _ratelimit_headers(
    meters: list[Meter], used: list[int], window: int, at: float
) -> dict[str, str]:
    """OpenAI's `x-ratelimit-*` headers for the narrowest subject's request and token limits."""
    headers: dict[str, str] = {}
    reset = f"{limits.retry_after(window, at)}s"
    for kind in ("requests", "tokens"):
        for meter, count in zip(meters, used, strict=True):
            if meter.kind == kind:
                headers[f"x-ratelimit-limit-{kind}"] = str(meter.limit)
                headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, meter.limit - count))
                headers[f"x-ratelimit-reset-{kind}"] = reset
                break
    return headers


class Metering:
    """The one limits engine: monthly budgets in the database, per-minute limits and running
    replies in a meter store (memory, or Redis shared by the replicas)."""

    def __init__(self, settings: Settings, store: MeterStore) -> None:
        self.settings = settings
        self.store = store

    def meters(self, payer: Payer, model: Model, *, estimate: int) -> list[Meter]:
        """The limits a call is checked against, narrowest subject first (key, user, model)."""
        settings = self.settings
        found: list[Meter] = []

        def add(
            subject: str, requests: int | None, tokens: int | None, streams: int | None
        ) -> None:
            if requests is not None:
                found.append(Meter("requests", subject, requests, 1))
            if tokens is not None:
                found.append(Meter("tokens", subject, tokens, estimate))
            if streams is not None:
                found.append(Meter("streams", subject, streams, 1))

        if payer.key_id is not None:
            policy = payer.key or KeyPolicy()
            add(
                f"key:{payer.key_id}",
                policy.requests_per_minute or settings.key_requests_per_minute,
                policy.tokens_per_minute or settings.key_tokens_per_minute,
                settings.key_concurrent_streams,
            )
        add(
            f"user:{payer.user_id}",
            settings.user_requests_per_minute,
            settings.user_tokens_per_minute,
            settings.user_concurrent_streams,
        )
        add(
            f"user:{payer.user_id}:model:{model.id}",
            model.requests_per_minute,
            model.tokens_per_minute,
            None,
        )
        return found

    async def admit(
        self,
        session: AsyncSession | None,
        *,
        payer: Payer,
        model: Model,
        estimate: int,
        ref: str | None = None,
    ) -> Admission:
        """Let a call through or refuse it (403 model_not_allowed, 429 quota_exceeded or
        rate_limited) before any provider is asked. With a monthly budget, `session` must be a
        write transaction: the reservation is committed with it."""
        check_model(payer, model, ref=ref)
        admission = Admission(payer=payer, model_id=model.id, estimate=estimate)
        if payer.has_budget:
            if session is None:
                raise RuntimeError("a monthly budget is checked in a write transaction")
            admission.reservation_id = await _reserve(
                session, payer, estimate=estimate, now=utcnow()
            )
        meters = self.meters(payer, model, estimate=estimate)
        if not meters:
            return admission
        at = limits.now()
        hold = Hold(slot=uuid.uuid4().hex, window=limits.current_window(at), meters=meters)
        try:
            hold.used = await self.store.take(meters, slot=hold.slot, now=at)
        except Refused as refused:
            error = RateLimited(
                refused.retry_after,
                f"Too many {refused.meter.kind} for this "
                f"{refused.meter.subject.split(':')[0]}; try again later.",
            )
            error.headers.update(
                _ratelimit_headers([refused.meter], [refused.used], hold.window, at)
            )
            raise error from None
        admission.hold = hold
        admission.headers = _ratelimit_headers(meters, hold.used, hold.window, at)
        return admission

    async def release(self, admission: Admission, *, used_tokens: int | None = None) -> None:
        """End the call's hold on the meters: free its slots and replace its token estimate with
        what it used (none, when it never ran). Safe to call twice."""
        hold = admission.hold
        if hold is None or hold.done:
            return
        hold.done = True
        delta = (used_tokens or 0) - admission.estimate
        try:
            for meter in hold.meters:
                if meter.kind == "tokens" and delta:
                    await self.store.adjust(meter, window=hold.window, delta=delta)
            await self.store.release(hold.meters, slot=hold.slot)
        except Exception:
            log.warning("limits_release_failed", slot=hold.slot)

    async def aclose(self) -> None:
        await self.store.close()


async def record(
    session: AsyncSession,
    *,
    admission: Admission,
    usage: Usage,
    source: UsageSource,
    status: str,
    chat_id: uuid.UUID | None = None,
) -> UsageEvent:
    """Charge a finished call, in the caller's transaction: its event, the day's rollup and the
    end of its reservation are committed together, so a call is charged exactly once."""
    payer = admission.payer
    event = UsageEvent(
        user_id=payer.user_id,
        api_key_id=payer.key_id,
        model_id=admission.model_id,
        chat_id=chat_id,
        source=source,
        status=status,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens or 0,
        reasoning_tokens=usage.reasoning_tokens or 0,
        estimated=usage.estimated,
        created_at=utcnow(),
    )
    await repository.add_event(session, event)
    await repository.add_to_rollup(
        session,
        user_id=payer.user_id,
        day=event.created_at.astimezone(UTC).date(),
        model_id=admission.model_id,
        api_key_id=payer.key_id,
        source=source,
        counts={
            "requests": 1,
            "input_tokens": event.input_tokens,
            "output_tokens": event.output_tokens,
            "cached_tokens": event.cached_tokens,
            "reasoning_tokens": event.reasoning_tokens,
        },
    )
    if admission.reservation_id is not None:
        await repository.delete_reservation(session, admission.reservation_id)
    return event
