"""The web console on the local stack's root: its static files, its settings, and a local-only sign-in.

The console (`console/` at the repo root) is plain files: served as they are, beside the API's stage
(`/local/...`). Locally anyone may mint a token for any user name, the way `genjobs-local token`
does; this endpoint is the emulation's, never a route of the product's API.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genjobs_local.http_api import Request, Response
from genjobs_local.paths import REPO_ROOT

CONSOLE_DIR = REPO_ROOT / "console"
TOKEN_PATH = "/_local/token"
CONFIG_PATH = "/config.json"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")  # what a Cognito user name may be here
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def _json(status: int, payload: Any) -> Response:
    return Response(status, [("content-type", "application/json")], json.dumps(payload).encode())


@dataclass(frozen=True)
class ConsoleSite:
    """Answers the console's paths; `handle` returns None for every other path (the API's)."""

    api_path: str  # the API's base as the browser reaches it on this origin, e.g. "/local"
    mint: Callable[[str, bool], str]  # (user, admin) -> a JWT the API's authorizer accepts
    root: Path = CONSOLE_DIR
    # The live channel's WebSocket URL ("" without one), read when asked: it starts after the API.
    live_url: Callable[[], str] = lambda: ""

    def handle(self, request: Request) -> Response | None:
        if request.raw_path == TOKEN_PATH:
            return self._token(request) if request.method == "POST" else _json(405, {"message": "POST"})
        if request.method not in ("GET", "HEAD"):
            return None
        if request.raw_path == CONFIG_PATH:
            return _json(200, {"apiUrl": self.api_path, "liveUrl": self.live_url(), "signIn": "local"})
        return self._file(request.raw_path)

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

    def _file(self, raw_path: str) -> Response | None:
        relative = "index.html" if raw_path in ("", "/") else raw_path.lstrip("/")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return None  # the API front answers its own 404
        content_type = (
            _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        headers = [("content-type", content_type), ("cache-control", "no-cache")]
        return Response(200, headers, path.read_bytes())
