"""The live-server fixture, for the test of a client that leaves a stream mid-way."""

from tests.ws.conftest import serve

__all__ = ["serve"]
