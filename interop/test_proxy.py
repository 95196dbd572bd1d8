"""wsauth's authenticating proxy in front of a FastAPI WebSocket app under uvicorn
(upstream_app.py), all on loopback: frames cross both ways, the identity arrives,
the credential never does, a spoofed X-Wsauth-Sub never arrives, expiry and logout
close both sides with their codes, and an unreachable upstream is 502."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import sys
import tempfile
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from conftest import HERE, PASSWORD, READY, ROOT, WSAUTH_BIN, Server, free_port

SHORT_TTL = 3


@pytest.fixture(scope="module")
def upstream():
    """upstream_app.py under uvicorn: its origin, e.g. http://127.0.0.1:PORT."""
    port = free_port()
    server = Server(
        "upstream_app",
        [sys.executable, "-m", "uvicorn", "upstream_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        {},
        HERE,
    )
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{origin}/healthz", timeout=1, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"upstream_app did not start:\n{server.log()}")
        time.sleep(0.1)
    try:
        yield origin
    finally:
        server.stop()


def _proxy_server(upstream: str, secret: str, *extra: str):
    """wsauth proxying /app to the upstream's /echo and /gone to a closed port."""
    if not WSAUTH_BIN.exists():
        pytest.fail(f"{WSAUTH_BIN} not found: run `cargo build -p wsauth-server` first")
    data_dir = tempfile.mkdtemp(prefix="wsauth-proxy-")
    routes = f"/app=ws{upstream.removeprefix('http')}/echo,/gone=ws://127.0.0.1:{free_port()}/echo"
    server = Server(
        "wsauth",
        [str(WSAUTH_BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, *extra],
        {"WSAUTH_HMAC_SECRET": secret, "WSAUTH_PROXY": routes},
        ROOT,
    )
    return server, data_dir


@pytest.fixture(scope="module")
def proxy(upstream: str, secret: str):
    """wsauth with the proxy routes: its origin."""
    server, data_dir = _proxy_server(upstream, secret)
    try:
        yield server.wait_for_line(READY, timeout=60).group(1)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def short_proxy(upstream: str, secret: str):
    """The same, with access tokens that live SHORT_TTL seconds."""
    server, data_dir = _proxy_server(upstream, secret, "--access-ttl", str(SHORT_TTL))
    try:
        yield server.wait_for_line(READY, timeout=60).group(1)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=10)


def login(origin: str) -> dict:
    username = f"proxy_{secrets.token_hex(4)}"
    body = {"username": username, "password": PASSWORD}
    assert http().post(f"{origin}/auth/register", json=body).status_code == 201
    res = http().post(f"{origin}/auth/login", json=body)
    assert res.status_code == 200, res.text
    return {"username": username, **res.json()}


def open_ws(origin: str, path: str, **kwargs):
    url = "ws" + origin.removeprefix("http") + path
    return connect(url, proxy=None, open_timeout=10, **kwargs)


def seen(upstream: str) -> dict:
    return http().get(f"{upstream}/seen").json()


def handshake_with(upstream: str, marker: str) -> dict:
    found = [h for h in seen(upstream)["handshakes"] if f"case={marker}" in h["query"]]
    assert len(found) == 1, found
    return found[0]


def closes_after(upstream: str, before: int, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        closes = seen(upstream)["closes"]
        if len(closes) > before:
            return closes[before:]
        time.sleep(0.05)
    raise AssertionError(f"the upstream saw no new close: {seen(upstream)['closes']}")


def close_code(ws) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout=10)
    assert info.value.rcvd is not None, "no close frame from wsauth"
    return info.value.rcvd.code, info.value.rcvd.reason


def test_frames_cross_both_ways_and_the_identity_arrives(proxy, upstream):
    user = login(proxy)
    token = user["access_token"]
    with open_ws(proxy, f"/app?token={token}&case=frames") as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello"
        ws.send("text both ways")
        assert ws.recv(timeout=10) == "text both ways"
        ws.send(b"\x00\x01binary\xff")
        assert ws.recv(timeout=10) == b"\x00\x01binary\xff"
    arrived = handshake_with(upstream, "frames")
    assert arrived["headers"]["x-wsauth-sub"] == user["username"]
    encoded = arrived["headers"]["x-wsauth-claims"]
    claims = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert claims["sub"] == user["username"] and claims["type"] == "access"
    assert hello["headers"]["x-wsauth-sub"] == user["username"], "the app saw it too"


def test_the_credential_never_arrives(proxy, upstream):
    token = login(proxy)["access_token"]
    with open_ws(proxy, f"/app?token={token}&case=query"):
        pass
    with open_ws(proxy, "/app?case=header", additional_headers={"Authorization": f"Bearer {token}"}):
        pass
    with open_ws(proxy, "/app?case=subprotocol", subprotocols=["wsauth", f"bearer.{token}", "chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v1", "the app's choice reaches the client"
    ticket = http().post(f"{proxy}/auth/ws-ticket", headers={"Authorization": f"Bearer {token}"}).json()["ticket"]
    with open_ws(proxy, f"/app?ticket={ticket}&case=ticket"):
        pass
    for case, secret in [("query", token), ("header", token), ("subprotocol", token), ("ticket", ticket)]:
        arrived = handshake_with(upstream, case)
        text = json.dumps(arrived)
        assert secret not in text, f"{case}: the credential reached the app: {text}"
        assert "authorization" not in arrived["headers"]
        assert not any(p.startswith("bearer.") or p == "wsauth" for p in arrived["subprotocols"])
    assert handshake_with(upstream, "subprotocol")["subprotocols"] == ["chat.v1"]


def test_a_spoofed_identity_never_arrives(proxy, upstream):
    user = login(proxy)
    spoof = {
        "X-Wsauth-Sub": "admin",
        "X-Wsauth-Claims": "eyJzdWIiOiJhZG1pbiJ9",
        # An ASGI app sees these names as sent; CGI, WSGI and Rack read them
        # as the dashed names.
        "X_Wsauth_Sub": "admin",
        "X-Real_IP": "6.6.6.6",
        # Forwarding headers are wsauth's to write.
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Proto": "https",
        "X-Real-IP": "6.6.6.6",
        "True-Client-IP": "6.6.6.6",
    }
    with open_ws(proxy, f"/app?token={user['access_token']}&case=spoof", additional_headers=spoof):
        pass
    arrived = handshake_with(upstream, "spoof")
    headers = arrived["headers"]
    assert headers["x-wsauth-sub"] == user["username"]
    text = json.dumps(arrived)
    for planted in ("eyJzdWIiOiJhZG1pbiJ9", "admin", "6.6.6.6"):
        assert planted not in text, text
    assert not any("_" in name for name in headers), headers
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert "true-client-ip" not in headers


def test_logout_closes_both_sides_with_4003(proxy, upstream):
    token = login(proxy)["access_token"]
    before = len(seen(upstream)["closes"])
    with open_ws(proxy, f"/app?token={token}&case=logout") as ws:
        ws.recv(timeout=10)  # hello
        res = http().post(f"{proxy}/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 200
        assert close_code(ws) == (4003, "token revoked")
    assert closes_after(upstream, before) == [{"code": 4003, "reason": "token revoked"}]


def test_expiry_closes_both_sides_with_4001(short_proxy, upstream):
    token = login(short_proxy)["access_token"]
    before = len(seen(upstream)["closes"])
    with open_ws(short_proxy, f"/app?token={token}&case=expiry") as ws:
        ws.recv(timeout=10)  # hello
        assert close_code(ws) == (4001, "token expired")
    assert closes_after(upstream, before) == [{"code": 4001, "reason": "token expired"}]


def test_the_upstreams_close_code_reaches_the_client(proxy, upstream):
    token = login(proxy)["access_token"]
    with open_ws(proxy, f"/app?token={token}&case=upstream-close") as ws:
        ws.recv(timeout=10)
        ws.send("close:4100:app says bye")
        assert close_code(ws) == (4100, "app says bye")


def test_an_unreachable_upstream_is_502_before_any_upgrade(proxy):
    token = login(proxy)["access_token"]
    with pytest.raises(InvalidStatus) as info:
        with open_ws(proxy, f"/gone?token={token}"):
            pass
    response = info.value.response
    assert response.status_code == 502
    assert json.loads(response.body)["error"] == "upstream_unreachable"
