"""Every domain's tables, imported together so the metadata (and Alembic) sees all of them."""

from colloquy.accounts.models import AuditEvent, LoginSession, RefreshToken, User
from colloquy.core.database import Base

__all__ = ["AuditEvent", "Base", "LoginSession", "RefreshToken", "User"]
