"""Every domain's tables, imported together so the metadata (and Alembic) sees all of them."""

from colloquy.accounts.models import AuditEvent, LoginSession, RefreshToken, User
from colloquy.agents.models import Agent
from colloquy.chats.models import Chat, Message
from colloquy.core.database import Base
from colloquy.datasets.models import Dataset
from colloquy.fine_tuning.models import FineTuneCheckpoint, FineTuneEvent, FineTuneJob
from colloquy.keys.models import ApiKey
from colloquy.llm.models import Model
from colloquy.projects.models import Project
from colloquy.prompts.models import CommonPrompt, Prompt
from colloquy.tasks.models import Task
from colloquy.usage.models import UsageDaily, UsageEvent, UsageReservation

__all__ = [
    "Agent",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Chat",
    "CommonPrompt",
    "Dataset",
    "FineTuneCheckpoint",
    "FineTuneEvent",
    "FineTuneJob",
    "LoginSession",
    "Message",
    "Model",
    "Project",
    "Prompt",
    "RefreshToken",
    "Task",
    "UsageDaily",
    "UsageEvent",
    "UsageReservation",
    "User",
]
