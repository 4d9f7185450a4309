"""The model registry and the providers that generate text (OpenAI-compatible, local, dev)."""
