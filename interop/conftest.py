"""Starts the three servers the interop tests talk to, all on loopback, sharing one secret:
the wsauth binary and the seed's two fastapi-jwt-auth programs under uvicorn."""

from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WSAUTH_BIN = Path(os.environ.get("WSAUTH_BIN", ROOT / "target" / "debug" / "wsauth"))
READY = re.compile(r"^wsauth listening on (http://127\.0\.0\.1:(\d+))\s*$")
PASSWORD = "correct horse battery staple"


class Server:
    """A child process whose output is collected for failure messages."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def log(self) -> str:
        return "".join(self.output)

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            match = pattern.match(line)
            if match:
                return match
        raise RuntimeError(f"{self.name} did not get ready:\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def secret() -> str:
    """One HS256 secret (32+ bytes) for the seed and for wsauth."""
    value = os.environ.get("SEED_SECRET") or secrets.token_hex(32)
    assert len(value.encode()) >= 32
    return value


@pytest.fixture(scope="session")
def wsauth(secret: str):
    """The wsauth server's origin, e.g. http://127.0.0.1:PORT."""
    if not WSAUTH_BIN.exists():
        pytest.fail(f"{WSAUTH_BIN} not found: run `cargo build -p wsauth-server` first")
    data_dir = tempfile.mkdtemp(prefix="wsauth-interop-")
    server = Server(
        "wsauth",
        [str(WSAUTH_BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
        {"WSAUTH_HMAC_SECRET": secret},
        ROOT,
    )
    try:
        origin = server.wait_for_line(READY, timeout=60).group(1)
        yield origin
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _seed(module: str, secret: str):
    port = free_port()
    server = Server(
        module,
        [sys.executable, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        {"SEED_SECRET": secret},
        HERE,
    )
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{origin}/", timeout=1, trust_env=False).status_code == 200:
                return server, origin
        except httpx.HTTPError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{module} did not start:\n{server.log()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def seed_query(secret: str):
    """The seed's query-token example (seed_query.py) under uvicorn."""
    server, origin = _seed("seed_query", secret)
    try:
        yield origin
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seed_cookie(secret: str):
    """The seed's cookie example (seed_cookie.py) under uvicorn."""
    server, origin = _seed("seed_cookie", secret)
    try:
        yield origin
    finally:
        server.stop()


@pytest.fixture
def wsauth_user(wsauth: str) -> tuple[str, str]:
    """A freshly registered wsauth user: (username, password)."""
    username = f"interop_{secrets.token_hex(4)}"
    res = httpx.post(f"{wsauth}/auth/register", json={"username": username, "password": PASSWORD}, trust_env=False)
    assert res.status_code == 201, res.text
    return username, PASSWORD
