"""Forward auth through a real nginx: `deploy/nginx/forward-auth.conf` sends every request
to wsauth's `/auth/verify` first (`auth_request`); only what wsauth lets through reaches
the FastAPI app, carrying the identity wsauth verified and never one the client wrote.
The app's `/seen` (asked directly, not through nginx) says what reached it."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import PASSWORD
from front_door_nginx import FrontDoor, front_door  # noqa: F401  (the fixture)


def ws_url(origin: str, path: str) -> str:
    return origin.replace("http://", "ws://", 1) + path


def open_ws(door: FrontDoor, path: str, **kwargs):
    return connect(ws_url(door.nginx, path), proxy=None, open_timeout=10, **kwargs)


def refused(door: FrontDoor, path: str, **kwargs):
    with pytest.raises(InvalidStatus) as info:
        open_ws(door, path, **kwargs).close()
    return info.value.response


def handshakes_seen(door: FrontDoor) -> list[dict]:
    res = httpx.get(f"{door.app}/seen", trust_env=False)
    assert res.status_code == 200, res.text
    return res.json()["handshakes"]


def login(door: FrontDoor) -> tuple[str, str]:
    """A fresh user, registered and logged in through nginx: (username, access token)."""
    username = f"door_{secrets.token_hex(4)}"
    body = {"username": username, "password": PASSWORD}
    res = httpx.post(f"{door.nginx}/auth/register", json=body, trust_env=False)
    assert res.status_code == 201, res.text
    res = httpx.post(f"{door.nginx}/auth/login", json=body, trust_env=False)
    assert res.status_code == 200, res.text
    return username, res.json()["access_token"]


def claims_of(value: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def hello(ws) -> dict:
    frame = json.loads(ws.recv(timeout=10))
    assert frame["type"] == "hello", frame
    return frame


def test_a_valid_token_reaches_the_app_with_the_verified_identity_only(front_door: FrontDoor):
    username, token = login(front_door)
    spoofed = {
        "X-Wsauth-Sub": "mallory",
        "X-Wsauth-Claims": base64.urlsafe_b64encode(b'{"sub":"mallory"}').decode(),
        "X-Wsauth-Error": "none",
        # nginx drops names with underscores by default (kept in deploy/nginx).
        "X_Wsauth_Sub": "mallory",
    }
    with open_ws(front_door, f"/echo?token={token}", additional_headers=spoofed) as ws:
        arrived = hello(ws)["headers"]
        assert arrived["x-wsauth-sub"] == username
        claims = claims_of(arrived["x-wsauth-claims"])
        assert claims["sub"] == username and claims["type"] == "access", claims
        assert "x-wsauth-error" not in arrived
        assert "mallory" not in json.dumps(arrived)
        ws.send("through nginx")
        assert ws.recv(timeout=10) == "through nginx"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"\x00\x01"


def test_header_subprotocol_and_ticket_credentials_get_through(front_door: FrontDoor):
    username, token = login(front_door)
    with open_ws(front_door, "/echo", additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert hello(ws)["headers"]["x-wsauth-sub"] == username
    with open_ws(front_door, "/echo", subprotocols=["wsauth", f"bearer.{token}"]) as ws:
        assert hello(ws)["headers"]["x-wsauth-sub"] == username
    res = httpx.post(f"{front_door.nginx}/auth/ws-ticket", headers={"Authorization": f"Bearer {token}"},
                     trust_env=False)
    assert res.status_code == 200, res.text
    ticket = res.json()["ticket"]
    with open_ws(front_door, f"/echo?ticket={quote(ticket)}") as ws:
        assert hello(ws)["headers"]["x-wsauth-sub"] == username
    again = refused(front_door, f"/echo?ticket={quote(ticket)}")
    assert again.status_code == 401
    assert again.headers["x-wsauth-error"] == "invalid_ticket"


def test_cookie_mode_needs_csrf_and_the_public_origin(front_door: FrontDoor):
    username = f"door_{secrets.token_hex(4)}"
    body = {"username": username, "password": PASSWORD}
    assert httpx.post(f"{front_door.nginx}/auth/register", json=body, trust_env=False).status_code == 201
    res = httpx.post(f"{front_door.nginx}/auth/cookie/login", json=body, trust_env=False)
    assert res.status_code == 200, res.text
    jar = "; ".join(f"{name}={value}" for name, value in res.cookies.items())
    csrf = res.cookies["csrf_access_token"]
    browser = {"Cookie": jar, "Origin": front_door.nginx}
    with open_ws(front_door, f"/echo?csrf_token={csrf}", additional_headers=browser) as ws:
        assert hello(ws)["headers"]["x-wsauth-sub"] == username
    missing = refused(front_door, "/echo", additional_headers=browser)
    assert (missing.status_code, missing.headers["x-wsauth-error"]) == (403, "csrf_failed")
    foreign = {"Cookie": jar, "Origin": "https://evil.example"}
    other = refused(front_door, f"/echo?csrf_token={csrf}", additional_headers=foreign)
    assert (other.status_code, other.headers["x-wsauth-error"]) == (403, "origin_not_allowed")


def test_an_invalid_or_revoked_token_is_refused_before_the_app(front_door: FrontDoor):
    _, token = login(front_door)
    before = len(handshakes_seen(front_door))
    for path, code in [
        ("/echo?token=not.a.jwt", "invalid_token"),
        (f"/echo?token={token[:-4]}AAAA", "invalid_token"),
        ("/echo", "missing_token"),
    ]:
        response = refused(front_door, path)
        assert response.status_code == 401, (path, response.status_code)
        assert response.headers["x-wsauth-error"] == code
    res = httpx.post(f"{front_door.nginx}/auth/logout", headers={"Authorization": f"Bearer {token}"},
                     trust_env=False)
    assert res.status_code == 200, res.text
    revoked = refused(front_door, f"/echo?token={token}")
    assert (revoked.status_code, revoked.headers["x-wsauth-error"]) == (401, "token_revoked")
    assert len(handshakes_seen(front_door)) == before, "a refused handshake reached the app"
    # nginx keeps /auth/verify to itself.
    direct = httpx.get(f"{front_door.nginx}/auth/verify?token={token}", trust_env=False)
    assert direct.status_code == 404
