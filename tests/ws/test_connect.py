"""Opening the socket: origins, authentication by header or first frame, token expiry."""

import uuid
from datetime import timedelta

import anyio
import pytest
from websockets.exceptions import InvalidStatus

from colloquy.chats import ws as chat_ws
from colloquy.core.security import TokenSigner
from tests.support import Account, make_account
from tests.ws.conftest import Serve
from tests.ws.support import Live, close_code, open_socket, ready_socket, receive, send

UNAUTHORIZED = 4401


def short_token(live: Live, account: Account, seconds: int) -> str:
    """A valid token of the same login that expires in `seconds`."""
    signer = TokenSigner(live.app.state.settings)
    claims = signer.read_access(account.access_token)
    signer.access_ttl = timedelta(seconds=seconds)
    token, _ = signer.issue_access(user_id=claims.user_id, session_id=claims.session_id)
    return token


async def test_header_token_gets_ready(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with open_socket(live, token=account.access_token) as ws:
            assert await receive(ws) == {"type": "ready"}


async def test_first_frame_token_gets_ready(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with open_socket(live) as ws:
            await send(ws, {"type": "auth", "token": account.access_token})
            assert await receive(ws) == {"type": "ready"}
            await send(ws, {"type": "ping"})
            assert await receive(ws) == {"type": "pong"}


async def test_no_auth_within_timeout_closes_4401(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_ws, "AUTH_TIMEOUT", 0.2)
    async with serve() as live, open_socket(live) as ws:
        assert await close_code(ws) == UNAUTHORIZED


async def test_first_frame_other_than_auth_closes_4401(serve: Serve) -> None:
    async with serve() as live, open_socket(live) as ws:
        await send(ws, {"type": "ping"})
        assert await close_code(ws) == UNAUTHORIZED


@pytest.mark.parametrize("authorization", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer"])
async def test_bad_header_token_is_accepted_then_closed_4401(
    serve: Serve, authorization: str
) -> None:
    async with serve() as live, open_socket(live, headers={"Authorization": authorization}) as ws:
        assert await close_code(ws) == UNAUTHORIZED


async def test_expired_header_token_closes_4401(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with open_socket(live, token=short_token(live, account, -5)) as ws:
            assert await close_code(ws) == UNAUTHORIZED


async def test_bad_auth_frame_closes_4401(serve: Serve) -> None:
    async with serve() as live, open_socket(live) as ws:
        await send(ws, {"type": "auth", "token": "forged"})
        assert await close_code(ws) == UNAUTHORIZED


async def test_disallowed_origin_is_refused_before_accept(serve: Serve) -> None:
    async with serve(cors_origins=["https://app.example"]) as live:
        account = await make_account(live.http)
        with pytest.raises(InvalidStatus) as refused:
            async with open_socket(live, token=account.access_token, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403


async def test_allowed_origin_is_accepted(serve: Serve) -> None:
    async with serve(cors_origins=["https://app.example"]) as live:
        account = await make_account(live.http)
        async with open_socket(
            live, token=account.access_token, origin="https://app.example"
        ) as ws:
            assert await receive(ws) == {"type": "ready"}


async def test_wildcard_cors_allows_any_origin(serve: Serve) -> None:
    async with serve(cors_origins=["*"]) as live:
        account = await make_account(live.http)
        async with open_socket(
            live, token=account.access_token, origin="https://any.example"
        ) as ws:
            assert await receive(ws) == {"type": "ready"}


async def test_origin_is_refused_when_no_cors_origins(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        with pytest.raises(InvalidStatus) as refused:
            async with open_socket(live, token=account.access_token, origin="https://app.example"):
                pass
        assert refused.value.response.status_code == 403


async def test_token_expiry_closes_4401(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        # Long enough to outlast the handshake on a loaded machine, short enough to wait for.
        async with open_socket(live, token=short_token(live, account, 5)) as ws:
            assert await receive(ws) == {"type": "ready"}
            assert await close_code(ws, within=10) == UNAUTHORIZED


async def test_new_auth_frame_extends_the_socket(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with open_socket(live, token=short_token(live, account, 5)) as ws:
            assert await receive(ws) == {"type": "ready"}
            await send(ws, {"type": "auth", "token": account.access_token})
            await anyio.sleep(5.5)
            await send(ws, {"type": "ping", "ref": 7})
            assert await receive(ws) == {"type": "pong", "ref": 7}


async def test_auth_frame_of_another_user_closes_4401(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        other = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            await send(ws, {"type": "auth", "token": other.access_token})
            assert await close_code(ws) == UNAUTHORIZED


async def test_ended_login_closes_4401(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_ws, "RECHECK_SECONDS", 0.2)
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            response = await live.http.post("/api/v1/auth/logout-all", headers=account.headers)
            assert response.status_code == 204
            assert await close_code(ws) == UNAUTHORIZED


async def test_send_after_login_ended_closes_4401(serve: Serve) -> None:
    async with serve() as live:
        account = await make_account(live.http)
        async with ready_socket(live, account) as ws:
            response = await live.http.post("/api/v1/auth/logout-all", headers=account.headers)
            assert response.status_code == 204
            await send(ws, {"type": "send", "chat_id": str(uuid.uuid4()), "content": "hi"})
            assert await close_code(ws) == UNAUTHORIZED
