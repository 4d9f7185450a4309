"""Colloquy: a self-hostable backend for AI chat and agent applications."""

__version__ = "0.1.0"
