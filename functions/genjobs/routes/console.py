"""GET /console/...: the web console's files and its config.json, on the API's own origin.

The files are the repository's `console/`, shipped beside this package (`functions/console` links
to it, and `sam build` copies what it links to). They are public like any static site: every data
call the console makes carries the user's JWT to the API's authorized routes, so no CORS is needed.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from genjobs.deps import deps

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console"
PREFIX = "/console/"
INDEX = "index.html"
CONFIG = "config.json"
# What a module script needs to run (mimetypes' tables differ between platforms).
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
# The page and its settings are checked at every load, so a deploy shows at once; the modules and
# the stylesheet may be kept a few minutes.
REVALIDATE = "no-cache"
SHORT_LIVED = "max-age=300"

router = Router()  # type: ignore[no-untyped-call]


def console_file(relative: str, root: Path) -> Path | None:
    """The console's file at `relative` (as requested, percent-encoded or not), or None for anything
    that is not a file inside the console's folder."""
    name = unquote(relative) or INDEX
    segments = name.split("/")
    if "\\" in name or "\x00" in name or any(s in ("", ".", "..") for s in segments):
        return None
    base = root.resolve()
    path = (base / name).resolve()
    return path if path.is_relative_to(base) and path.is_file() else None


def not_found() -> Response[str]:
    return Response(
        status_code=404,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": "Not Found"}),
        headers={"Cache-Control": REVALIDATE},
    )


@router.get("/console")
def folder() -> Response[str]:
    # The page addresses its modules, stylesheet and config.json relative to /console/.
    return Response(status_code=301, headers={"Location": "console/", "Cache-Control": REVALIDATE})


@router.get("/console/.*")
def served() -> Response[str] | Response[bytes]:
    event = cast("APIGatewayProxyEventV2", router.current_event)
    relative = event.path.removeprefix(PREFIX)
    if unquote(relative) == CONFIG:
        # The API's base as this browser reaches it: the path before the stage's routes ("/dev").
        base = event.raw_path[: len(event.raw_path) - len(event.path)]
        return _answer(_config(base).encode(), content_types.APPLICATION_JSON, REVALIDATE)
    path = console_file(relative, CONSOLE_DIR)
    if path is None:
        return not_found()
    kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return _answer(path.read_bytes(), kind, REVALIDATE if path.name == INDEX else SHORT_LIVED)


def _config(api_url: str) -> str:
    # Deployed, a user signs in by pasting an ID token of the user pool behind the JWT authorizer.
    return json.dumps({"apiUrl": api_url, "liveUrl": deps().settings.live_url, "signIn": "token"})


def _answer(body: bytes, kind: str, cache: str) -> Response[str] | Response[bytes]:
    headers = {"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    textual = kind.startswith("text/") or kind in (content_types.APPLICATION_JSON, "image/svg+xml")
    if textual:
        return Response(status_code=200, content_type=kind, body=body.decode(), headers=headers)
    return Response(status_code=200, content_type=kind, body=body, headers=headers)  # sent base64
