"""Errors the agents domain raises."""

from colloquy.core.errors import NotFound


class AgentNotFound(NotFound):
    code = "agent_not_found"
    default_detail = "No such agent."
