"""The users' identity provider, as the HTTP API's JWT authorizer checks its tokens.

The WebSocket API has no JWT authorizer of its own, so the channel checks the token it is opened
with the same way: RS256 signed by a key of the issuer's JWKS (`<issuer>/.well-known/jwks.json`,
as OpenID Connect and Cognito publish it), `iss` the issuer, `aud` (or an access token's
`client_id`) the audience, `exp` in the future.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import jwt

from genjobs.models.persistence import InvalidToken


class JwtVerifier:
    def __init__(self, issuer: str, audiences: list[str]) -> None:
        self.issuer = issuer.rstrip("/")
        self.audiences = set(audiences)

    @cached_property
    def _keys(self) -> jwt.PyJWKClient:
        # Keys are fetched once and kept per process (refetched for a key id not seen yet).
        return jwt.PyJWKClient(f"{self.issuer}/.well-known/jwks.json", cache_keys=True, timeout=5)

    def claims(self, token: str) -> dict[str, Any]:
        try:
            signing_key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        audience = claims.get("aud", claims.get("client_id"))
        if not self.audiences & set(audience if isinstance(audience, list) else [audience]):
            raise InvalidToken("audience not accepted")
        return claims
