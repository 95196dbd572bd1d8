"""Prints an HS256 access token for the echo example, signed with argv[1]."""

import base64
import hashlib
import hmac
import json
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


now = int(time.time())
claims = {
    "sub": "autobahn",
    "jti": "conformance",
    "iat": now,
    "nbf": now,
    "exp": now + 3600,
    "type": "access",
}
signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(claims)}"
signature = hmac.new(sys.argv[1].encode(), signing_input.encode(), hashlib.sha256).digest()
print(f"{signing_input}.{b64(signature)}")
