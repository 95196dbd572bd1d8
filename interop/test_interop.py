"""Tokens and cookies cross between fastapi-jwt-auth 0.5.0 (the seed's two example
programs, unchanged but for the secret) and wsauth, in both directions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

HERE = Path(__file__).resolve().parent
PYTHON_CLIENT = HERE.parent / "examples" / "clients" / "python_client.py"


def http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=10)


def ws_url(origin: str, path: str) -> str:
    return "ws" + origin.removeprefix("http") + path


def open_ws(origin: str, path: str, **kwargs):
    return connect(ws_url(origin, path), proxy=None, open_timeout=10, **kwargs)


def seed_tokens(seed_query: str) -> dict:
    res = http().post(f"{seed_query}/login", json={"username": "test", "password": "test"})
    assert res.status_code == 200, res.text
    return res.json()


def wsauth_tokens(wsauth: str, user: tuple[str, str]) -> dict:
    username, password = user
    res = http().post(f"{wsauth}/auth/login", json={"username": username, "password": password})
    assert res.status_code == 200, res.text
    return res.json()


def refused(origin: str, path: str, **kwargs) -> tuple[int, dict]:
    """Opens a socket that must be refused before the upgrade: (status, JSON body)."""
    with pytest.raises(InvalidStatus) as info:
        with open_ws(origin, path, **kwargs):
            pass
    response = info.value.response
    return response.status_code, json.loads(response.body or b"{}")


def seed_messages(ws, count: int = 2) -> list[str]:
    """The seed sends text frames and then stops (success) or closes (failure)."""
    out = []
    for _ in range(count):
        try:
            out.append(ws.recv(timeout=10))
        except Exception:  # the seed closed after its error message
            break
    return out


# ---- seed token -> wsauth --------------------------------------------------------------

def test_seed_access_token_opens_wsauth_query(seed_query: str, wsauth: str) -> None:
    access = seed_tokens(seed_query)["access_token"]
    with open_ws(wsauth, f"/ws?token={quote(access)}") as ws:
        welcome = json.loads(ws.recv(timeout=10))
        assert welcome["type"] == "welcome"
        assert welcome["sub"] == "test"
        assert welcome["credential"] == "query"
        assert welcome["claims"]["type"] == "access"
        assert welcome["claims"]["fresh"] is True
        ws.send(json.dumps({"type": "echo", "data": "from a fastapi-jwt-auth token"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "echo", "data": "from a fastapi-jwt-auth token"}


def test_seed_refresh_token_is_refused_by_wsauth_before_upgrade(seed_query: str, wsauth: str) -> None:
    refresh = seed_tokens(seed_query)["refresh_token"]
    status, body = refused(wsauth, f"/ws?token={quote(refresh)}")
    assert status == 401
    assert isinstance(body.get("error"), str) and isinstance(body.get("detail"), str)
    assert refresh not in json.dumps(body)


def test_seed_access_token_with_a_wrong_secret_is_refused_by_wsauth(seed_query: str, wsauth: str) -> None:
    access = seed_tokens(seed_query)["access_token"]
    header, payload, signature = access.split(".")
    forged = f"{header}.{payload}.{'A' * len(signature)}"
    status, _ = refused(wsauth, f"/ws?token={quote(forged)}")
    assert status == 401


# ---- wsauth token -> seed --------------------------------------------------------------

def test_wsauth_access_token_passes_the_seed_query_check(wsauth: str, seed_query: str, wsauth_user) -> None:
    access = wsauth_tokens(wsauth, wsauth_user)["access_token"]
    with open_ws(seed_query, f"/ws?token={quote(access)}") as ws:
        first, second = seed_messages(ws)
    assert first == "Successfully Login!"
    assert second.startswith("Here your decoded token: ")
    assert f"'sub': '{wsauth_user[0]}'" in second
    assert "'type': 'access'" in second


def test_wsauth_refresh_token_is_refused_by_the_seed(wsauth: str, seed_query: str, wsauth_user) -> None:
    refresh = wsauth_tokens(wsauth, wsauth_user)["refresh_token"]
    with open_ws(seed_query, f"/ws?token={quote(refresh)}") as ws:
        messages = seed_messages(ws)
    assert messages[0] == "Only access tokens are allowed"


# ---- cookies + CSRF, both ways ---------------------------------------------------------

def cookie_header(cookies: httpx.Cookies) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def test_wsauth_cookies_pass_the_seed_cookie_check(wsauth: str, seed_cookie: str, wsauth_user) -> None:
    username, password = wsauth_user
    res = http().post(f"{wsauth}/auth/cookie/login", json={"username": username, "password": password})
    assert res.status_code == 200, res.text
    csrf = res.json()["csrf_access_token"]
    assert res.cookies["csrf_access_token"] == csrf
    assert {"access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"} <= set(res.cookies.keys())
    cookies = cookie_header(res.cookies)

    with open_ws(seed_cookie, f"/ws?csrf_token={quote(csrf)}", additional_headers={"Cookie": cookies}) as ws:
        first, second = seed_messages(ws)
    assert first == "Successfully Login!"
    assert f"'sub': '{username}'" in second
    assert f"'csrf': '{csrf}'" in second

    with open_ws(seed_cookie, "/ws?csrf_token=not-the-csrf-value", additional_headers={"Cookie": cookies}) as ws:
        assert seed_messages(ws)[0] == "CSRF double submit tokens do not match"


def test_seed_cookies_open_wsauth(seed_cookie: str, wsauth: str) -> None:
    res = http().get(f"{seed_cookie}/get-cookie")
    assert res.status_code == 200, res.text
    csrf = res.cookies["csrf_access_token"]
    cookies = cookie_header(res.cookies)
    path = f"/ws?csrf_token={quote(csrf)}"

    with open_ws(wsauth, path, additional_headers={"Cookie": cookies, "Origin": wsauth}) as ws:
        welcome = json.loads(ws.recv(timeout=10))
    assert welcome["type"] == "welcome"
    assert welcome["sub"] == "test"
    assert welcome["credential"] == "cookie"
    assert welcome["claims"]["csrf"] == csrf

    # The same cookies from a page on the seed's origin: refused, the Origin is not allowed.
    status, _ = refused(wsauth, path, additional_headers={"Cookie": cookies, "Origin": seed_cookie})
    assert status == 403
    # And with a CSRF value that does not match the cookie's claim.
    status, _ = refused(wsauth, "/ws?csrf_token=wrong", additional_headers={"Cookie": cookies, "Origin": wsauth})
    assert status in (401, 403)


# ---- examples/clients/python_client.py ---------------------------------------------------

def test_python_client_example(wsauth: str, wsauth_user) -> None:
    username, password = wsauth_user
    run = subprocess.run(
        [sys.executable, str(PYTHON_CLIENT), "--server", wsauth, "--username", username,
         "--message", "hello", "--message", "second message", "--whoami"],
        input=password + "\n", capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert 'subprotocol selected by the server: "wsauth"' in out
    frames = [json.loads(line[3:]) for line in out.splitlines() if line.startswith("<- ")]
    assert frames[0]["type"] == "welcome" and frames[0]["sub"] == username
    assert frames[0]["credential"] == "subprotocol"
    assert {"type": "echo", "data": "hello"} in frames
    assert {"type": "echo", "data": "second message"} in frames
    assert any(f["type"] == "whoami" and f["claims"]["sub"] == username for f in frames)
    assert "closed 1000" in out
