"""The web console on the local stack's root: its files, its settings, and a local-only sign-in.

The files come from the product's own console routes (ConsoleFunction, `GET /console/{proxy+}` of
the template): a path at the root is answered as that path under `/<stage>/console/`. Only two
answers are the emulation's own: `config.json` (sign in "local") and `POST /_local/token`, where
anyone may mint a token for any user name, the way `genjobs-local token` does; never a route of the
product's API. The product's `/<stage>/console/` asks for a pasted token, as when deployed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from genjobs_local.http_api import Request, Response

TOKEN_PATH = "/_local/token"
CONFIG_PATH = "/config.json"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")  # what a Cognito user name may be here


def _json(status: int, payload: Any) -> Response:
    return Response(status, [("content-type", "application/json")], json.dumps(payload).encode())


@dataclass(frozen=True)
class ConsoleSite:
    """Answers every path outside the API's stage: `handle` returns None only for a method the
    console has no answer to (the front then answers 404)."""

    api_path: str  # the API's base as the browser reaches it on this origin, e.g. "/local"
    mint: Callable[[str, bool], str]  # (user, admin) -> a JWT the API's authorizer accepts
    # The API front: a console file is the answer of the product's console route.
    forward: Callable[[Request], Response]
    # The live channel's WebSocket URL ("" without one), read when asked: it starts after the API.
    live_url: Callable[[], str] = lambda: ""

    def handle(self, request: Request) -> Response | None:
        if request.raw_path == TOKEN_PATH:
            return self._token(request) if request.method == "POST" else _json(405, {"message": "POST"})
        if request.method not in ("GET", "HEAD"):
            return None
        if request.raw_path == CONFIG_PATH:
            return _json(200, {"apiUrl": self.api_path, "liveUrl": self.live_url(), "signIn": "local"})
        # HEAD as the GET it stands for (the route is GET only; the server sends no body for HEAD).
        path = f"{self.api_path}/console/{request.raw_path.lstrip('/')}"
        return self.forward(replace(request, method="GET", raw_path=path))

    def _token(self, request: Request) -> Response:
        try:
            body = json.loads(request.body or b"{}")
            user = str(body["user"]).strip()
            admin = body.get("admin", False) is True
        except (ValueError, KeyError, TypeError):
            return _json(400, {"message": 'send {"user": "<name>", "admin": false}'})
        if not USER_NAME.match(user):
            return _json(400, {"message": "a user name is 1-128 letters, digits and . _ @ -"})
        return _json(200, {"token": self.mint(user, admin), "user": user, "admin": admin})
