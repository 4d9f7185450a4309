"""Agents (the seeds' characters): AI personas with instructions, a model and sampling settings."""
