"""Usage reports, answered from the daily rollup alone: sums per day, model, API key, source or
user over a span of days, their CSV form, and where a caller stands against monthly budgets."""

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from colloquy.accounts.models import User
from colloquy.core.database import utcnow
from colloquy.core.errors import ValidationFailed
from colloquy.keys.models import ApiKey
from colloquy.llm.models import Model
from colloquy.usage import repository
from colloquy.usage.models import NO_KEY, UsageDaily, UsageSource
from colloquy.usage.service import Payer, month_start, next_month

DEFAULT_SPAN_DAYS = 30
MAX_SPAN_DAYS = 3660
COUNT_FIELDS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "total_tokens",
)
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class GroupBy(StrEnum):
    DAY = "day"
    MODEL = "model"
    API_KEY = "api_key"
    SOURCE = "source"


class AdminGroupBy(StrEnum):
    DAY = "day"
    MODEL = "model"
    API_KEY = "api_key"
    SOURCE = "source"
    USER = "user"


_COLUMNS: dict[str, ColumnElement[Any]] = {
    "day": UsageDaily.day.expression,
    "model": UsageDaily.model_id.expression,
    "api_key": UsageDaily.api_key_id.expression,
    "source": UsageDaily.source.expression,
    "user": UsageDaily.user_id.expression,
}
# Groups that carry a name from another table: (its id column, the name column).
_LABELS: dict[str, tuple[InstrumentedAttribute[Any], InstrumentedAttribute[Any]]] = {
    "model": (Model.id, Model.name),
    "api_key": (ApiKey.id, ApiKey.name),
    "user": (User.id, User.email),
}
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "model": ("model_id", "model"),
    "api_key": ("api_key_id", "api_key_name"),
    "source": ("source",),
    "user": ("user_id", "email"),
}


@dataclass(frozen=True, slots=True)
class Counts:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def of(cls, row: Any) -> "Counts":
        # PostgreSQL sums BIGINTs as NUMERIC; both databases give whole numbers.
        return cls(*(int(getattr(row, name)) for name in repository.COUNTERS))

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def fields(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_FIELDS}


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What to sum: a span of UTC days (inclusive), a grouping, and filters. A `user_id` of None
    sums every user's usage (administrators only)."""

    start: date
    end: date
    group_by: str | None = None
    user_id: uuid.UUID | None = None
    model_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    source: UsageSource | None = None

    def filters(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.model_id is not None:
            found.append(UsageDaily.model_id == self.model_id)
        if self.api_key_id is not None:
            found.append(UsageDaily.api_key_id == self.api_key_id)
        if self.source is not None:
            found.append(UsageDaily.source == self.source)
        return found


@dataclass(frozen=True, slots=True)
class Row:
    """One group: its key fields (see KEY_FIELDS) and its sums."""

    keys: dict[str, Any]
    counts: Counts

    def fields(self) -> dict[str, Any]:
        return {**self.keys, **self.counts.fields()}


@dataclass(frozen=True, slots=True)
class Report:
    start: date
    end: date
    group_by: str | None
    rows: list[Row]
    totals: Counts


def resolve_span(start: date | None, end: date | None, *, today: date) -> tuple[date, date]:
    """The days a report covers: by default the 30 days up to today (UTC). Refuses a start
    after the end, or more than MAX_SPAN_DAYS days."""
    end = end or today
    start = start or date.fromordinal(max(1, end.toordinal() - (DEFAULT_SPAN_DAYS - 1)))
    if start > end:
        raise ValidationFailed(
            "`start` is after `end`.",
            errors=[
                {"loc": ["query", "start"], "msg": "must not be after end", "type": "value_error"}
            ],
        )
    if (end - start).days + 1 > MAX_SPAN_DAYS:
        raise ValidationFailed(
            f"A report covers at most {MAX_SPAN_DAYS} days.",
            errors=[
                {
                    "loc": ["query", "start"],
                    "msg": f"at most {MAX_SPAN_DAYS} days before end",
                    "type": "value_error",
                }
            ],
        )
    return start, end


def today() -> date:
    return utcnow().date()


def report_query(
    start: date | None, end: date | None, *, group_by: str | None, **filters: Any
) -> ReportQuery:
    """A query over the span `start`..`end` resolves to (see `resolve_span`)."""
    first, last = resolve_span(start, end, today=today())
    return ReportQuery(start=first, end=last, group_by=group_by, **filters)


def _keys(group_by: str, key: Any, label: str | None) -> dict[str, Any]:
    if group_by == "api_key" and key == NO_KEY:
        key = None
    if group_by in _LABELS:
        return dict(zip(KEY_FIELDS[group_by], (key, label), strict=True))
    return {KEY_FIELDS[group_by][0]: key}


async def build_report(session: AsyncSession, *, query: ReportQuery) -> Report:
    """Sums over the rollup in one statement (names joined in), whatever the span; rows by day
    ascending, otherwise by total tokens descending."""
    span: dict[str, Any] = {
        "start": query.start,
        "end": query.end,
        "user_id": query.user_id,
        "filters": query.filters(),
    }
    group_by = query.group_by
    if group_by is None:
        found = await repository.summarize(session, None, **span)
        totals = Counts.of(found[0]) if found else Counts()
        return Report(query.start, query.end, None, [], totals)
    column = _COLUMNS[group_by]
    if group_by in _LABELS:
        ident, label = _LABELS[group_by]
        found = await repository.summarize_labelled(
            session, column, ident=ident, label=label, **span
        )
    else:
        found = await repository.summarize(session, column, **span)
    rows = [
        Row(_keys(group_by, row.key, getattr(row, "label", None)), Counts.of(row)) for row in found
    ]
    if group_by == "day":
        rows.sort(key=lambda row: row.keys["day"])
    else:
        first = KEY_FIELDS[group_by][0]
        rows.sort(key=lambda row: (-row.counts.total_tokens, str(row.keys[first] or "")))
    totals = sum((row.counts for row in rows), Counts())
    return Report(query.start, query.end, group_by, rows, totals)


async def build_export(session: AsyncSession, *, query: ReportQuery) -> Report:
    """The report a CSV export holds: by day unless another grouping is asked for."""
    return await build_report(session, query=replace(query, group_by=query.group_by or "day"))


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def csv_chunks(report: Report) -> Iterator[str]:
    """The report as CSV: a header, then one line per row (no totals); text that a spreadsheet
    would run as a formula is quoted with a leading apostrophe."""
    header = [*KEY_FIELDS[report.group_by or "day"], *COUNT_FIELDS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield _drain(buffer)
    for row in report.rows:
        writer.writerow([_cell(value) for value in row.fields().values()])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    return text


@dataclass(frozen=True, slots=True)
class Budget:
    """A monthly budget (None: unlimited), the tokens used against it this month, and those
    held by calls still running."""

    limit: int | None
    used: int
    reserved: int

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class Quota:
    user: Budget
    key: Budget | None
    resets_at: datetime


async def get_quota(session: AsyncSession, *, payer: Payer, now: datetime | None = None) -> Quota:
    """The payer's monthly quota this calendar month (UTC), and their API key's own budget when
    it has one."""
    now = now or utcnow()
    since = month_start(now.date())

    async def budget(limit: int | None, key_id: uuid.UUID | None) -> Budget:
        used = await repository.tokens_since(
            session, user_id=payer.user_id, since=since, api_key_id=key_id
        )
        reserved = await repository.tokens_reserved(
            session, user_id=payer.user_id, now=now, api_key_id=key_id
        )
        return Budget(limit=limit, used=used, reserved=reserved)

    key = None
    if payer.key_id is not None and payer.key_budget is not None:
        key = await budget(payer.key_budget, payer.key_id)
    return Quota(
        user=await budget(payer.monthly_quota, None),
        key=key,
        resets_at=next_month(now.date()),
    )
