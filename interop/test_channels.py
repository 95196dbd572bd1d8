"""wsauth channels with a FastAPI backend (channels_app.py) as the source of rights and
as a publisher, all on loopback: a member subscribes to their room, another room is
refused, the app's announcements arrive with `from: null`, and once the app removes the
member and its answer's ttl runs out, the subscription ends with `permission_revoked`
while the socket stays open."""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from conftest import HERE, PASSWORD, READY, ROOT, WSAUTH_BIN, Server, free_port

TTL = 1  # seconds the app's answers hold: how soon a removal ends a live subscription
WAIT = 15  # the longest any frame is waited for (a bound, not a measurement)


class Stack:
    """wsauth and the FastAPI app, wired to each other."""

    def __init__(self, wsauth: str, app: str, admin_key: str, authorizer_secret: str) -> None:
        self.wsauth = wsauth
        self.app = app
        self.admin = {"Authorization": f"Bearer {admin_key}"}
        self.authorizer_secret = authorizer_secret


def _wait_healthy(server: Server, origin: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{origin}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} did not start:\n{server.log()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(secret: str):
    """The app's port is chosen first, so that wsauth's configuration can name it; wsauth
    then starts on a port of its own, and the app is told where it is."""
    if not WSAUTH_BIN.exists():
        pytest.fail(f"{WSAUTH_BIN} not found: run `cargo build -p wsauth-server` first")
    authorizer_secret = secrets.token_hex(32)
    publish_key = secrets.token_hex(32)
    admin_key = secrets.token_hex(32)
    app_port = free_port()
    app_origin = f"http://127.0.0.1:{app_port}"
    work = Path(tempfile.mkdtemp(prefix="wsauth-channels-"))
    config = work / "wsauth.toml"
    config.write_text(
        "[channels]\n"
        f'authorizer_url = "{app_origin}/wsauth/authorize"\n'
        f'authorizer_secret = "{authorizer_secret}"\n'
    )
    servers: list[Server] = []
    try:
        wsauth = Server(
            "wsauth",
            [str(WSAUTH_BIN), "serve", "--config", str(config), "--listen", "127.0.0.1:0",
             "--data-dir", str(work / "data")],
            {"WSAUTH_HMAC_SECRET": secret, "WSAUTH_PUBLISH_API_KEY": publish_key},
            ROOT,
        )
        servers.append(wsauth)
        wsauth_origin = wsauth.wait_for_line(READY, timeout=60).group(1)
        app = Server(
            "channels_app",
            [sys.executable, "-m", "uvicorn", "channels_app:app", "--host", "127.0.0.1",
             "--port", str(app_port), "--log-level", "warning"],
            {
                "WSAUTH_ORIGIN": wsauth_origin,
                "WSAUTH_PUBLISH_API_KEY": publish_key,
                "CHANNELS_AUTHORIZER_SECRET": authorizer_secret,
                "CHANNELS_APP_ADMIN_KEY": admin_key,
                "CHANNELS_TTL": str(TTL),
            },
            HERE,
        )
        servers.append(app)
        _wait_healthy(app, app_origin)
        yield Stack(wsauth_origin, app_origin, admin_key, authorizer_secret)
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _user(stack: Stack) -> tuple[str, str]:
    """Registers and logs in a fresh user: (username, access token)."""
    username = f"chan_{secrets.token_hex(4)}"
    creds = {"username": username, "password": PASSWORD}
    res = httpx.post(f"{stack.wsauth}/auth/register", json=creds, trust_env=False)
    assert res.status_code == 201, res.text
    res = httpx.post(f"{stack.wsauth}/auth/login", json=creds, trust_env=False)
    assert res.status_code == 200, res.text
    return username, res.json()["access_token"]


def _open(stack: Stack, token: str):
    """A socket on wsauth's /ws with the token in the subprotocol (use it with `with`)."""
    url = "ws" + stack.wsauth.removeprefix("http") + "/ws"
    return connect(url, subprotocols=["wsauth", f"bearer.{token}"], proxy=None, open_timeout=10)


def _send(ws, **frame) -> None:
    ws.send(json.dumps(frame))


def _recv(ws) -> dict:
    return json.loads(ws.recv(timeout=WAIT))


def _members(stack: Stack, method: str, room: int, username: str) -> None:
    res = httpx.request(method, f"{stack.app}/rooms/{room}/members/{username}", headers=stack.admin,
                        trust_env=False)
    assert res.status_code == 204, res.text


def _announce(stack: Stack, room: int, text: str) -> dict:
    res = httpx.post(f"{stack.app}/rooms/{room}/announce", json={"text": text}, headers=stack.admin,
                     trust_env=False, timeout=10)
    assert res.status_code == 200, res.text
    return res.json()


def test_a_member_subscribes_hears_the_app_and_loses_the_room_with_the_socket_open(stack: Stack) -> None:
    username, token = _user(stack)
    _members(stack, "PUT", 1, username)
    with _open(stack, token) as ws:
        welcome = _recv(ws)
        assert (welcome["type"], welcome["channel_sub"]) == ("welcome", username), welcome

        _send(ws, type="subscribe", id="1", channel="room:1")
        assert _recv(ws) == {"type": "subscribed", "id": "1", "channel": "room:1",
                             "actions": ["subscribe", "publish", "presence"]}

        _send(ws, type="subscribe", id="2", channel="room:2")
        refused = _recv(ws)
        assert (refused["type"], refused["id"], refused["command"], refused["error"]) == \
            ("error", "2", "subscribe", "forbidden"), refused

        assert _announce(stack, 1, "deploy finished") == {"channel": "room:1", "delivered": 1}
        assert _recv(ws) == {"type": "message", "channel": "room:1", "data": {"text": "deploy finished"},
                             "from": None}

        _send(ws, type="publish", id="3", channel="room:1", data="hello, room")
        assert _recv(ws) == {"type": "published", "id": "3", "channel": "room:1"}
        assert _recv(ws) == {"type": "message", "channel": "room:1", "data": "hello, room", "from": username}

        # The app takes the room away; when its last answer runs out, wsauth asks again.
        _members(stack, "DELETE", 1, username)
        assert _recv(ws) == {"type": "unsubscribed", "channel": "room:1", "reason": "permission_revoked"}

        # The socket is open and answers; nothing more of room:1 reaches it.
        assert _announce(stack, 1, "after the removal") == {"channel": "room:1", "delivered": 0}
        _send(ws, type="echo", data="still here")
        echoed = _recv(ws)
        assert (echoed["type"], echoed["data"]) == ("echo", "still here"), echoed
        _send(ws, type="subscribe", id="4", channel="room:1")
        refused = _recv(ws)
        assert (refused["type"], refused["id"], refused["error"]) == ("error", "4", "forbidden"), refused


def test_the_authorizer_answers_only_wsauth(stack: Stack) -> None:
    question = {"sub": "mallory", "issuer": None, "subject": "mallory", "channel_sub": "mallory",
                "roles": [], "channel": "room:1", "action": "subscribe"}
    for headers in ({}, {"Authorization": "Bearer not-the-secret"}, stack.admin):
        res = httpx.post(f"{stack.app}/wsauth/authorize", json=question, headers=headers, trust_env=False)
        assert res.status_code == 401, res.text
    res = httpx.post(f"{stack.app}/wsauth/authorize", json=question,
                     headers={"Authorization": f"Bearer {stack.authorizer_secret}"}, trust_env=False)
    assert res.status_code == 200, res.text
    assert res.json() == {"allow": False, "ttl": TTL}


def test_the_apps_own_endpoints_need_its_admin_key(stack: Stack) -> None:
    for headers in ({}, {"Authorization": f"Bearer {stack.authorizer_secret}"}):
        res = httpx.put(f"{stack.app}/rooms/1/members/mallory", headers=headers, trust_env=False)
        assert res.status_code == 401, res.text
        res = httpx.post(f"{stack.app}/rooms/1/announce", json={"text": "x"}, headers=headers, trust_env=False)
        assert res.status_code == 401, res.text
