"""Forward auth for real: nginx (Debian's package) with `auth_request` to the wsauth
binary, in front of the FastAPI app `upstream_app.py` under uvicorn, all on loopback
and free ports. nginx runs the repository's `deploy/nginx/forward-auth.conf` with its
placeholders filled in, as a foreground child with its files in a temporary directory."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import HERE, READY, ROOT, WSAUTH_BIN, Server, free_port

TEMPLATE = ROOT / "deploy" / "nginx" / "forward-auth.conf"
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


@dataclass
class FrontDoor:
    """Where each server of the front door listens (http://127.0.0.1:PORT)."""

    nginx: str
    wsauth: str
    app: str


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        pytest.fail("nginx not found: interop/run.sh installs it (apt-get install nginx)")
    return found


def write_nginx_conf(directory: Path, listen: int, wsauth: int, app: int) -> Path:
    """The template with its ports filled in, inside a main file of the test's own."""
    site = (
        TEMPLATE.read_text()
        .replace("@LISTEN@", f"127.0.0.1:{listen}")
        .replace("@WSAUTH_ADDR@", f"127.0.0.1:{wsauth}")
        .replace("@UPSTREAM_ADDR@", f"127.0.0.1:{app}")
    )
    left = PLACEHOLDER.findall(site)
    assert not left, f"placeholders left in the nginx template: {left}"
    (directory / "forward-auth.conf").write_text(site)
    # nginx started as root hands its workers to `nobody`, who could not enter
    # this private directory; the workers keep the test's own user instead.
    user = "user root;" if os.geteuid() == 0 else ""
    main = directory / "nginx.conf"
    main.write_text(
        f"""{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/forward-auth.conf;
}}
"""
    )
    return main


def wait_until_serving(server: Server, url: str, expected: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code == expected:
                return
        except httpx.HTTPError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{server.name} did not start:\n{server.log()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def front_door():
    """nginx -> (auth_request: wsauth) -> the FastAPI app; yields their origins."""
    if not WSAUTH_BIN.exists():
        pytest.fail(f"{WSAUTH_BIN} not found: run `cargo build -p wsauth-server` first")
    directory = Path(tempfile.mkdtemp(prefix="wsauth-front-door-"))
    nginx_port, app_port = free_port(), free_port()
    nginx_origin = f"http://127.0.0.1:{nginx_port}"
    started: list[Server] = []
    try:
        wsauth = Server(
            "wsauth",
            [str(WSAUTH_BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(directory / "data"),
             "--trusted-proxy", "127.0.0.1/32", "--allowed-origin", nginx_origin],
            {},
            ROOT,
        )
        started.append(wsauth)
        wsauth_origin = wsauth.wait_for_line(READY, timeout=60).group(1)
        wsauth_port = int(wsauth_origin.rsplit(":", 1)[1])

        app = Server(
            "upstream_app",
            [sys.executable, "-m", "uvicorn", "upstream_app:app", "--host", "127.0.0.1",
             "--port", str(app_port), "--log-level", "warning"],
            {},
            HERE,
        )
        started.append(app)
        app_origin = f"http://127.0.0.1:{app_port}"
        wait_until_serving(app, f"{app_origin}/healthz", 200)

        conf = write_nginx_conf(directory, nginx_port, wsauth_port, app_port)
        nginx = Server(
            "nginx",
            [nginx_binary(), "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log"),
             "-g", "daemon off;"],
            {},
            directory,
        )
        started.append(nginx)
        # Everything behind nginx needs a credential: 401 means it is serving.
        wait_until_serving(nginx, f"{nginx_origin}/healthz", 401)
        yield FrontDoor(nginx=nginx_origin, wsauth=wsauth_origin, app=app_origin)
    except BaseException:
        log = directory / "error.log"
        if log.exists():
            sys.stderr.write(f"nginx error log:\n{log.read_text()}\n")
        raise
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
