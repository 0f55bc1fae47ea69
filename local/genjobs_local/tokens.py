"""Local identity provider: one RSA key under the state dir, JWTs minted from it, HTTP API's checks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE = "jwt-signing-key.pem"
AUDIENCE = "genjobs-local"  # the JwtAudience parameter of the local stack


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load_or_create_key(state_dir: Path) -> rsa.RSAPrivateKey:
    """The key persists so that tokens minted by another process (`genjobs-local token`) stay valid."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic and never overwrites: two processes starting at once agree on one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return loaded


@dataclass(frozen=True)
class Jwk:
    kid: str
    key: rsa.RSAPrivateKey

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Jwk:
        key = load_or_create_key(state_dir)
        numbers = key.public_key().public_numbers()
        kid = hashlib.sha256(f"{numbers.n}:{numbers.e}".encode()).hexdigest()[:16]
        return cls(kid=kid, key=key)

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid}
        return {"keys": [jwk | {"n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}]}

    def mint(
        self,
        *,
        issuer: str,
        audience: str,
        user: str,
        groups: list[str] | None = None,
        ttl_seconds: int = 3600,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A token shaped like a Cognito ID token (sub, cognito:username, cognito:groups, token_use)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user,
            "cognito:username": user,
            "token_use": "id",
            "iss": issuer,
            "aud": audience,
            "iat": now,
            "auth_time": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        if groups:
            claims["cognito:groups"] = groups
        claims |= extra_claims or {}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


class Unauthorized(Exception):
    """The JWT authorizer rejected the request (HTTP API answers 401 without calling the function)."""


@dataclass(frozen=True)
class JwtAuthorizer:
    """HTTP API's JWT authorizer: signature by a key of the JWKS, iss, aud (or client_id), exp/nbf/iat."""

    issuer: str
    audiences: list[str]
    jwks: dict[str, Any]

    def authorize(self, authorization: str | None) -> dict[str, Any]:
        if not authorization:
            raise Unauthorized("missing token")
        # HTTP API takes the token with or without the "Bearer " prefix.
        token = authorization[7:] if authorization[:7].lower() == "bearer " else authorization
        try:
            header = jwt.get_unverified_header(token)
            keys = {k["kid"]: k for k in self.jwks["keys"]}
            if header.get("alg") != "RS256" or header.get("kid") not in keys:
                raise Unauthorized("unknown signing key")
            public_key = jwt.PyJWK(keys[header["kid"]]).key
            claims: dict[str, Any] = jwt.decode(
                token,
                public_key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(str(error)) from error
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if not set(audiences) & set(self.audiences):
            raise Unauthorized("audience not accepted")
        return claims


def render_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as HTTP API hands them to the function: every value a string, arrays as "[a b]"."""

    def render(value: Any) -> str:
        if isinstance(value, list):
            return "[" + " ".join(render(v) for v in value) + "]"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    return {name: render(value) for name, value in claims.items()}


def scopes(claims: dict[str, Any]) -> list[str] | None:
    raw = claims.get("scope", claims.get("scp"))
    if raw is None:
        return None
    return raw.split() if isinstance(raw, str) else [str(s) for s in raw]
