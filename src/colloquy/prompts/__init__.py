"""Prompt templates with declared variables, rendered by substitution only; the shared library."""
