"""Mints the tokens of "external issuers" for the JWKS tests with PyJWT 2.

Reads a JSON request on stdin and writes a JSON answer on stdout:

  request: {"keys":   [{"name": "rsa", "alg": "RS256", "kid": "rsa-1"}, ...],
            "tokens": [{"key": "rsa", "claims": {...},
                        "headers": {...}}, ...]}     # headers optional
  answer:  {"jwks":   {"rsa": <public JWK with kid, use and alg>, ...},
            "tokens": ["<compact JWT>", ...]}

Keys are generated afresh on every run (RSA 2048, P-256, Ed25519); a
token's `kid` header is its key's unless "headers" says otherwise.
"""

import json
import sys

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm


def generate(alg):
    if alg in ("RS256", "PS256"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return private, RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        return private, ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    if alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        return private, OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    raise SystemExit(f"unsupported algorithm {alg}")


def main():
    request = json.load(sys.stdin)
    keys, jwks = {}, {}
    for spec in request.get("keys", []):
        private, public = generate(spec["alg"])
        public.update({"kid": spec["kid"], "use": "sig", "alg": spec["alg"]})
        keys[spec["name"]] = (private, spec)
        jwks[spec["name"]] = public
    tokens = []
    for spec in request.get("tokens", []):
        private, key = keys[spec["key"]]
        headers = {"kid": key["kid"], **spec.get("headers", {})}
        tokens.append(jwt.encode(spec["claims"], private, algorithm=key["alg"], headers=headers))
    json.dump({"jwks": jwks, "tokens": tokens}, sys.stdout)


if __name__ == "__main__":
    main()
