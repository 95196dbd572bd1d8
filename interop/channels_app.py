"""An application's backend for wsauth channels: a FastAPI app that decides who may use
which room, and announces to rooms.

- wsauth asks it about each channel action its rules do not grant
  (`[channels] authorizer_url` = this app's `/wsauth/authorize`, with
  `authorizer_secret` sent as a bearer token). A user may subscribe, publish and see
  presence on `room:<n>` while the app counts them as a member of room n; the answer
  holds for `CHANNELS_TTL` seconds, after which wsauth asks again for live
  subscriptions, so removing a member ends their subscription within the ttl.
- It publishes through wsauth's `POST /api/publish` with the publish key; subscribers
  get the message with `"from": null`.

Its own endpoints (members, announcements) stand for the app's admin screens and take
the app's own admin key. Settings, all required (the app refuses to start without them):

  WSAUTH_ORIGIN               wsauth's origin, e.g. http://127.0.0.1:8080
  WSAUTH_PUBLISH_API_KEY      wsauth's publish_api_key (32+ bytes)
  CHANNELS_AUTHORIZER_SECRET  wsauth's [channels] authorizer_secret (32+ bytes)
  CHANNELS_APP_ADMIN_KEY      the key of this app's own endpoints (32+ bytes)
  CHANNELS_TTL                seconds an answer holds (optional, default 60)
"""

from __future__ import annotations

import os
import re
import secrets

import httpx
from fastapi import Depends, FastAPI, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field


def _key(name: str) -> str:
    value = os.environ[name]
    if len(value.encode()) < 32:
        raise RuntimeError(f"{name} must be at least 32 bytes")
    return value


WSAUTH_ORIGIN = os.environ["WSAUTH_ORIGIN"].rstrip("/")
PUBLISH_API_KEY = _key("WSAUTH_PUBLISH_API_KEY")
AUTHORIZER_SECRET = _key("CHANNELS_AUTHORIZER_SECRET")
APP_ADMIN_KEY = _key("CHANNELS_APP_ADMIN_KEY")
TTL = float(os.environ.get("CHANNELS_TTL", "60"))

ROOM = re.compile(r"^room:([0-9]{1,9})$")
ACTIONS = {"subscribe", "publish", "presence"}
# Members are named by their channel subject, which for a local account is its username
# and for a trusted issuer's user is "@" and a hash, so a token from another issuer with
# the same `sub` is never taken for a member. The endpoints below take local usernames.
USERNAME = r"^[A-Za-z0-9_.-]{3,64}$"

app = FastAPI()
# room number -> channel subjects of its members
members: dict[int, set[str]] = {}


def _bearer(request: Request, expected: str) -> None:
    """Refuses (401) a request without `Authorization: Bearer <expected>`."""
    given = request.headers.get("authorization", "")
    if not secrets.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise HTTPException(status_code=401, detail="unauthorized")


def wsauth_only(request: Request) -> None:
    _bearer(request, AUTHORIZER_SECRET)


def admin_only(request: Request) -> None:
    _bearer(request, APP_ADMIN_KEY)


class Question(BaseModel):
    """What wsauth asks: may this socket take this action on this channel?"""

    sub: str = Field(max_length=1024)
    issuer: str | None = Field(None, max_length=2048)
    subject: str = Field(max_length=1024)
    channel_sub: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, max_items=256)
    channel: str = Field(max_length=255)
    action: str = Field(max_length=16)


class Answer(BaseModel):
    allow: bool
    ttl: float


class Announcement(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@app.post("/wsauth/authorize", response_model=Answer, dependencies=[Depends(wsauth_only)])
async def authorize(q: Question) -> Answer:
    """wsauth's question about one action: allowed for members of the room."""
    room = ROOM.match(q.channel)
    allow = bool(room) and q.action in ACTIONS and q.channel_sub in members.get(int(room.group(1)), set())
    return Answer(allow=allow, ttl=TTL)


@app.put("/rooms/{room}/members/{username}", status_code=204, response_class=Response,
         dependencies=[Depends(admin_only)])
async def add_member(room: int = Path(ge=0, le=999_999_999), username: str = Path(regex=USERNAME)) -> Response:
    members.setdefault(room, set()).add(username)
    return Response(status_code=204)


@app.delete("/rooms/{room}/members/{username}", status_code=204, response_class=Response,
            dependencies=[Depends(admin_only)])
async def remove_member(room: int = Path(ge=0, le=999_999_999), username: str = Path(regex=USERNAME)) -> Response:
    """Takes the room away; wsauth ends a live subscription when its answer's ttl runs out."""
    members.get(room, set()).discard(username)
    return Response(status_code=204)


@app.post("/rooms/{room}/announce", dependencies=[Depends(admin_only)])
async def announce(body: Announcement, room: int = Path(ge=0, le=999_999_999)) -> dict:
    """Publishes to `room:<n>` through wsauth; answers wsauth's `{"channel","delivered"}`."""
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        res = await client.post(
            f"{WSAUTH_ORIGIN}/api/publish",
            headers={"Authorization": f"Bearer {PUBLISH_API_KEY}"},
            json={"channel": f"room:{room}", "data": {"text": body.text}},
        )
    if res.status_code != 200:
        raise HTTPException(status_code=502, detail=f"wsauth answered {res.status_code}")
    return res.json()
