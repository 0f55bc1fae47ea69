"""The web console as ConsoleFunction serves it on the HTTP API: its page and modules with the types a
browser runs them by, a config.json built from the function's environment and the request, and a 404
for anything that is not one of its files."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from genjobs import deps as deps_module
from genjobs.deps import Deps
from genjobs.handlers import console
from genjobs.routes import console as console_routes
from genjobs.settings import Settings
from tests.integration.test_idempotency_problems import Context

EVENTS = Path(__file__).resolve().parents[2] / "events" / "console-function"
LIVE_URL = "wss://live.execute-api.eu-west-1.amazonaws.com/dev"


@pytest.fixture(autouse=True)
def environment() -> Iterator[None]:
    deps_module.override(Deps(settings=Settings.model_validate({"LIVE_URL": LIVE_URL})))
    yield
    deps_module.override(None)


def get(path: str, stage: str = "dev") -> dict[str, Any]:
    """GET of `path` under the stage, as the HTTP API hands it to the function (payload 2.0): the
    function's console test event, aimed at that path."""
    event = json.loads((EVENTS / "get-page.json").read_text())
    raw = path if stage == "$default" else f"/{stage}{path}"
    route = "GET /console" if path == "/console" else "GET /console/{proxy+}"
    event.update(rawPath=raw, routeKey=route)
    event["pathParameters"] = {"proxy": path.removeprefix("/console/")} if "{proxy+}" in route else None
    event["requestContext"].update(stage=stage, routeKey=route)
    event["requestContext"]["http"]["path"] = raw
    return console.handler(event, Context())  # type: ignore[arg-type]


def header(answer: dict[str, Any], name: str) -> str:
    return str({k.lower(): v for k, v in answer["headers"].items()}[name.lower()])


def test_the_page_is_served_at_the_console_folder_and_the_bare_path_leads_there() -> None:
    # WHEN the browser opens the console's folder
    page = get("/console/")

    # THEN it gets the page, checked again at every load
    assert page["statusCode"] == 200
    assert header(page, "content-type").startswith("text/html")
    assert header(page, "cache-control") == "no-cache"
    assert '<script type="module" src="js/app.js">' in page["body"]
    # AND /console leads to the folder, where the page's relative addresses resolve
    bare = get("/console")
    assert bare["statusCode"] == 301
    assert header(bare, "location") == "console/"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/console/js/app.js", "text/javascript"),
        ("/console/js/pages/job.js", "text/javascript"),
        ("/console/style.css", "text/css"),
        ("/console/index.html", "text/html"),
    ],
)
def test_each_file_comes_with_the_type_a_browser_runs_it_by(path: str, kind: str) -> None:
    answer = get(path)
    assert answer["statusCode"] == 200
    assert header(answer, "content-type").startswith(kind)
    assert header(answer, "x-content-type-options") == "nosniff"
    name = path.removeprefix("/console/")
    assert answer["body"] == (Path(console_routes.CONSOLE_DIR) / name).read_text()


def test_modules_may_be_kept_a_little_while_the_page_is_checked_each_time() -> None:
    assert header(get("/console/js/app.js"), "cache-control") == "max-age=300"
    assert header(get("/console/"), "cache-control") == "no-cache"


def test_a_binary_file_is_sent_base64_as_api_gateway_expects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a console folder with an image
    (tmp_path / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    monkeypatch.setattr(console_routes, "CONSOLE_DIR", tmp_path)

    # THEN it is served with its type, its bytes base64-encoded
    answer = get("/console/icon.png")
    assert header(answer, "content-type") == "image/png"
    assert answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == b"\x89PNG\r\n\x1a\n\x00\xff"


@pytest.mark.parametrize(("stage", "api_url"), [("dev", "/dev"), ("$default", "")])
def test_config_says_where_the_api_and_the_live_channel_are_and_to_paste_a_token(
    stage: str, api_url: str
) -> None:
    # WHEN the console reads its settings beside its page
    answer = get("/console/config.json", stage=stage)

    # THEN the API is the origin's own base path (no CORS), the live channel the function's
    # setting, and a user signs in with a token of the user pool
    assert answer["statusCode"] == 200
    assert header(answer, "content-type") == "application/json"
    assert header(answer, "cache-control") == "no-cache"
    assert json.loads(answer["body"]) == {"apiUrl": api_url, "liveUrl": LIVE_URL, "signIn": "token"}


@pytest.mark.parametrize(
    "path",
    [
        "/console/../template.yaml",
        "/console/%2e%2e/template.yaml",
        "/console/%2E%2E%2Ftemplate.yaml",
        "/console/js/../../pyproject.toml",
        "/console/js/%2e%2e/%2e%2e/pyproject.toml",
        "/console/%2e%2e%5ctemplate.yaml",
        "/console//etc/passwd",
        "/console/%2Fetc%2Fpasswd",
        "/console/missing.js",
        "/console/js",
        "/console/js/",
    ],
)
def test_nothing_but_a_file_of_the_console_folder_is_served(path: str) -> None:
    answer = get(path)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"]) == {"message": "Not Found"}
