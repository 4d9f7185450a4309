"""Errors the projects domain raises."""

from colloquy.core.errors import NotFound


class ProjectNotFound(NotFound):
    code = "project_not_found"
    default_detail = "No such project."
