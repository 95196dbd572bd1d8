"""A team's existing WebSocket backend, standing in for any language's: a FastAPI
app under uvicorn that knows nothing of tokens. wsauth sits in front of it (as
nginx `auth_request` target, or as the authenticating proxy) and the tests ask
this app what actually reached it.

  /echo     WebSocket: first sends {"type":"hello", ...what arrived...}, then echoes
            every text and binary frame; a text frame "close:<code>:<reason>" makes
            it close with that code and reason.
  /seen     JSON: every handshake that reached the app (headers, query, cookies,
            offered subprotocols) and every close it received (code, reason).
  /healthz  200 once the app is up.
"""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
handshakes: list[dict] = []
closes: list[dict] = []


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@app.get("/seen")
async def seen() -> dict:
    return {"handshakes": handshakes, "closes": closes}


@app.websocket("/echo")
async def echo(ws: WebSocket) -> None:
    offered = list(ws.scope.get("subprotocols", []))
    arrived = {
        "path": ws.url.path,
        "query": ws.url.query,
        "headers": {k.lower(): v for k, v in ws.headers.items()},
        "cookies": dict(ws.cookies),
        "subprotocols": offered,
    }
    handshakes.append(arrived)
    # Picks the first application subprotocol it knows, as real apps do.
    chosen = next((p for p in offered if p in ("chat.v2", "chat.v1")), None)
    await ws.accept(subprotocol=chosen)
    await ws.send_json({"type": "hello", "subprotocol": chosen, **arrived})
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                closes.append({"code": message.get("code"), "reason": message.get("reason", "")})
                return
            if message.get("text") is not None:
                text = message["text"]
                if text.startswith("close:"):
                    _, code, reason = text.split(":", 2)
                    await ws.close(code=int(code), reason=reason)
                    return
                await ws.send_text(text)
            elif message.get("bytes") is not None:
                await ws.send_bytes(message["bytes"])
    except WebSocketDisconnect as gone:
        closes.append({"code": gone.code, "reason": getattr(gone, "reason", "") or ""})
