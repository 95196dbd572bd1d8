#!/usr/bin/env python3
"""A small wsauth client: log in, open /ws with the token in the subprotocol, echo, print frames.

The access token travels as the WebSocket subprotocol ``bearer.<JWT>`` beside ``wsauth``,
so it never appears in a URL (and so never in an access log). The server answers with the
``wsauth`` subprotocol only.

    pip install websockets
    python examples/clients/python_client.py --server http://127.0.0.1:8000 --username alice
    # the password is read from WSAUTH_PASSWORD, from standard input, or asked for

Lines starting with ``->`` are frames sent, ``<-`` frames received (one JSON object each),
``#`` are notes. Exits 1 when login or the handshake is refused, 2 when the server closes
the socket with anything but 1000.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import urllib.error
import urllib.request

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

CLOSE_MEANINGS = {
    1000: "normal closure",
    1001: "server going away",
    1006: "abnormal closure",
    1008: "policy violation",
    1009: "message too big",
    1011: "server error",
    1013: "try again later",
    4001: "token expired",
    4003: "token revoked",
    4401: "authentication failed",
    4403: "subject mismatch",
    4408: "authentication timeout",
}


def post_json(url: str, body: dict) -> dict:
    """POSTs JSON without any proxy; raises SystemExit with the server's reason on an error."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        try:
            detail = json.load(err).get("detail", "")
        except (ValueError, AttributeError):
            detail = ""
        raise SystemExit(f"POST {url}: {err.code} {detail}".rstrip()) from None


def read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return args.password
    if os.environ.get("WSAUTH_PASSWORD"):
        return os.environ["WSAUTH_PASSWORD"]
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\n")


def show(direction: str, frame: str | bytes) -> None:
    if isinstance(frame, bytes):
        print(f"{direction} (binary, {len(frame)} bytes)", flush=True)
    else:
        print(f"{direction} {frame}", flush=True)


async def run(args: argparse.Namespace) -> int:
    server = args.server.rstrip("/")
    password = read_password(args)
    if args.register:
        try:
            post_json(f"{server}/auth/register", {"username": args.username, "password": password})
            print(f"# registered {args.username}")
        except SystemExit as err:
            if " 409" not in str(err):
                raise
    tokens = post_json(f"{server}/auth/login", {"username": args.username, "password": password})
    print(f"# logged in as {args.username}; access token valid {tokens.get('expires_in')} s")

    ws_url = ("wss" if server.startswith("https") else "ws") + server[server.index(":"):] + "/ws"
    try:
        async with connect(
            ws_url,
            subprotocols=["wsauth", f"bearer.{tokens['access_token']}"],
            proxy=None,
            open_timeout=10,
        ) as ws:
            print(f'# subprotocol selected by the server: "{ws.subprotocol}"')
            show("<-", await ws.recv())  # the welcome frame
            requests = [{"type": "echo", "data": m} for m in args.message]
            if args.whoami:
                requests.append({"type": "whoami"})
            for message in requests:
                text = json.dumps(message)
                await ws.send(text)
                show("->", text)
                show("<-", await ws.recv())
            await ws.close(1000, "done")
    except InvalidStatus as err:
        body = err.response.body.decode(errors="replace") if err.response.body else ""
        print(f"# handshake refused: HTTP {err.response.status_code} {body}", file=sys.stderr)
        return 1
    except ConnectionClosed as err:
        code = err.rcvd.code if err.rcvd else 1006
        reason = err.rcvd.reason if err.rcvd else ""
        print(f"# closed {code} ({CLOSE_MEANINGS.get(code, 'unknown')}) {reason}".rstrip())
        return 0 if code == 1000 else 2

    code = ws.close_code or 1006
    print(f"# closed {code} ({CLOSE_MEANINGS.get(code, 'unknown')})")
    return 0 if code == 1000 else 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:8000", help="wsauth server (default %(default)s)")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", help="default: $WSAUTH_PASSWORD, standard input or a prompt")
    parser.add_argument("--register", action="store_true", help="register the user first (409 is fine)")
    parser.add_argument("--message", action="append", default=None, help="echo this text (repeatable)")
    parser.add_argument("--whoami", action="store_true", help="also ask the server for the claims")
    args = parser.parse_args()
    if args.message is None:
        args.message = ["hello"]
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
