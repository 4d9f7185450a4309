"""Pure ASGI middleware (streaming passes through unbuffered): request ids, access log, headers."""

import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from colloquy.core import metrics
from colloquy.core.errors import PROBLEM_JSON, problem
from colloquy.core.network import Network, client_ip

REQUEST_ID_HEADER = "X-Request-ID"
# Recorded for a request whose client left before the answer (nginx's convention).
CLIENT_CLOSED = 499
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
_TITLES = {413: "Content Too Large", 500: "Internal Server Error"}

log = structlog.get_logger("colloquy.http")


def _too_large(limit: int | None) -> str:
    return f"The request body is larger than {limit} bytes."


class RequestContextMiddleware:
    """Gives each request an id and its client address, logs it, and turns crashes into 500s."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: Sequence[Network],
        metrics_enabled: bool = True,
        hsts: bool = False,
        max_body_size: int | None = None,
        body_size_allowances: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        # Paths that take larger bodies (uploads) than the global limit; they still count bytes.
        self.body_size_allowances = dict(body_size_allowances or {})
        self.trusted_proxies = tuple(trusted_proxies)
        self.metrics_enabled = metrics_enabled
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get(REQUEST_ID_HEADER)
        request_id = given if given and _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        peer = scope["client"][0] if scope.get("client") else None
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = client_ip(peer, headers.get("x-forwarded-for"), self.trusted_proxies)
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, request_id)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers[REQUEST_ID_HEADER] = request_id
                self._secure(response_headers, scope["path"])
            await send(message)

        limit = self.body_size_allowances.get(scope["path"], self.max_body_size)
        try:
            if self._declares_too_large_a_body(scope, limit):
                await self._problem(send_with_headers, 413, "payload_too_large", _too_large(limit))
                return
            await self.app(scope, self._limited(receive, limit), send_with_headers)
        except ClientDisconnect:
            status = CLIENT_CLOSED  # nobody is left to answer
            log.info("client_disconnected", path=scope["path"])
        except Exception:
            log.exception("unhandled_error", path=scope["path"])
            if not response_started:
                detail = "The server could not complete the request."
                await self._problem(send_with_headers, 500, "internal_error", detail)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    @staticmethod
    def _declares_too_large_a_body(scope: Scope, limit: int | None) -> bool:
        if limit is None:
            return False
        declared = Headers(scope=scope).get("content-length", "")
        return declared.isdigit() and int(declared) > limit

    @staticmethod
    def _limited(receive: Receive, limit: int | None) -> Receive:
        """Count body bytes as they arrive: a chunked body declares no length to check."""
        if limit is None:
            return receive
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit))
            return message

        return receive_within_limit

    def _secure(self, headers: MutableHeaders, path: str) -> None:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if not path.startswith(_DOCS_PATHS):
            headers.setdefault(
                "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
            )
        if self.hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")

    @staticmethod
    async def _problem(send: Send, status: int, code: str, detail: str) -> None:
        body = json.dumps(
            problem(status=status, title=_TITLES[status], detail=detail, code=code)
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "<unmatched>"
        method = scope["method"]
        state = scope.get("state", {})
        log.info(
            "request",
            method=method,
            route=template,
            path=scope["path"],
            status=status,
            duration_ms=round(seconds * 1000, 2),
            user_id=state.get("user_id"),
            client_ip=state.get("client_ip"),
        )
        if self.metrics_enabled:
            metrics.observe(method, template, status, seconds)
