"""Response bodies for usage reports and quotas."""

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from colloquy.usage.models import UsageSource
from colloquy.usage.reports import AdminGroupBy, GroupBy


class UsageCounts(BaseModel):
    requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    total_tokens: int = Field(description="Input plus output tokens.")


class DayUsage(UsageCounts):
    day: date


class ModelUsage(UsageCounts):
    model_id: uuid.UUID
    model: str | None = Field(description="The model's name; null once it is deleted.")


class KeyUsage(UsageCounts):
    api_key_id: uuid.UUID | None = Field(description="Null for usage without an API key.")
    api_key_name: str | None = Field(description="Null without a key, or once it is revoked.")


class SourceUsage(UsageCounts):
    source: UsageSource


class UserUsage(UsageCounts):
    user_id: uuid.UUID
    email: str | None


UsageRow = DayUsage | ModelUsage | KeyUsage | SourceUsage
ROW_SCHEMAS: dict[str, type[UsageCounts]] = {
    "day": DayUsage,
    "model": ModelUsage,
    "api_key": KeyUsage,
    "source": SourceUsage,
    "user": UserUsage,
}


class UsageReport(BaseModel):
    start: date
    end: date
    group_by: GroupBy | None
    rows: list[UsageRow] = Field(description="One per group; empty without `group_by`.")
    totals: UsageCounts


class AdminUsageReport(BaseModel):
    start: date
    end: date
    group_by: AdminGroupBy | None
    rows: list[UsageRow | UserUsage] = Field(description="One per group; empty without `group_by`.")
    totals: UsageCounts


class BudgetRead(BaseModel):
    limit: int | None = Field(description="Tokens a month; null is unlimited.")
    used: int = Field(description="Input plus output tokens this calendar month (UTC).")
    remaining: int | None = Field(description="What is left of the limit; null when unlimited.")
    reserved: int = Field(description="Tokens held by calls still running.")


class QuotaRead(BudgetRead):
    resets_at: datetime = Field(description="The start of next month, UTC.")
    key: BudgetRead | None = Field(
        description="The calling API key's own monthly budget, when it has one."
    )
