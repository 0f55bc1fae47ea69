"""The HTTP API on localhost: routes and authorizers from the template's OpenAPI body, payload v2.0 events."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from genjobs_local.intrinsics import ACCOUNT_ID
from genjobs_local.tokens import JwtAuthorizer, Unauthorized, render_claims, scopes

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP API's request payload limit
_FUNCTION_IN_URI = re.compile(r"functions/(arn:[^/]+)/invocations")
_TEXT_TYPES = re.compile(r"^(text/|application/(json|xml|javascript)|[^;]*\+(json|xml))", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    method: str  # "ANY" for x-amazon-apigateway-any-method
    path: str  # "/jobs/{jobId}"
    function_arn: str
    authorizer: JwtAuthorizer | None
    pattern: re.Pattern[str]
    static_segments: int
    greedy: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def routes_from_openapi(body: dict[str, Any], authorizers: dict[str, JwtAuthorizer]) -> list[Route]:
    routes = []
    default_security = body.get("security", [])
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration")
            if integration is None:
                continue
            match = _FUNCTION_IN_URI.search(str(integration["uri"]))
            if match is None or str(integration.get("payloadFormatVersion")) != "2.0":
                raise NotImplementedError(f"{method} {path}: only Lambda proxy integrations with payload 2.0")
            names = [
                name for requirement in operation.get("security", default_security) for name in requirement
            ]
            authorizer = next((authorizers[n] for n in names if n != "NONE"), None)
            segments = [s for s in path.split("/") if s]
            regex = "".join(_segment_regex(s) for s in segments)
            http_method = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            routes.append(
                Route(
                    method=http_method,
                    path=path,
                    function_arn=match.group(1),
                    authorizer=authorizer,
                    pattern=re.compile(f"^{regex or '/'}$"),
                    static_segments=sum(not s.startswith("{") for s in segments),
                    greedy=any(s.endswith("+}") for s in segments),
                )
            )
    return routes


def _segment_regex(segment: str) -> str:
    if segment.endswith("+}"):  # greedy {proxy+}, which also takes the bare trailing slash ("/console/")
        return f"/(?P<{segment[1:-2]}>.*)"
    if segment.startswith("{"):
        return f"/(?P<{segment[1:-1]}>[^/]+)"
    return "/" + re.escape(segment)


def authorizers_from_openapi(body: dict[str, Any], jwks: dict[str, Any]) -> dict[str, JwtAuthorizer]:
    found = {}
    for name, scheme in body.get("components", {}).get("securitySchemes", {}).items():
        config = scheme.get("x-amazon-apigateway-authorizer", {})
        if config.get("type") != "jwt":
            raise NotImplementedError(f"authorizer {name}: only JWT authorizers are emulated")
        jwt_config = config["jwtConfiguration"]
        audience = jwt_config.get("audience", [])
        found[name] = JwtAuthorizer(
            jwt_config["issuer"], audience if isinstance(audience, list) else [audience], jwks
        )
    return found


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """HTTP API's choice: the most specific matching route; greedy {proxy+} routes last."""
    candidates = []
    for route in routes:
        found = route.pattern.match(path)
        if found and route.method in (method, "ANY"):
            candidates.append(
                ((route.greedy, -route.static_segments, route.method == "ANY"), route, found.groupdict())
            )
    if not candidates:
        return None
    _, route, params = min(candidates, key=lambda c: c[0])
    return route, params


@dataclass
class Request:
    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_response(status: int, payload: Any, extra: list[tuple[str, str]] | None = None) -> Response:
    return Response(
        status, [("content-type", "application/json")] + (extra or []), json.dumps(payload).encode()
    )


class HttpApiFront:
    """Turns HTTP requests into the v2.0 events of the template's routes and the results back."""

    def __init__(
        self,
        *,
        api_id: str,
        stage: str,
        routes: list[Route],
        invoke: Callable[[str, Any], tuple[str, bool]],
        extra_paths: dict[str, Callable[[], dict[str, Any]]],
        site: Callable[[Request], Response | None] | None = None,
    ) -> None:
        self.api_id = api_id
        self.stage = stage
        self.routes = routes
        self._invoke = invoke
        self._extra_paths = extra_paths
        self._site = site  # what the origin serves outside the API's stage (the console)

    def handle(self, request: Request) -> Response:
        if request.raw_path in self._extra_paths:
            return _json_response(200, self._extra_paths[request.raw_path]())
        prefix = f"/{self.stage}"
        if request.raw_path != prefix and not request.raw_path.startswith(prefix + "/"):
            served = self._site(request) if self._site is not None else None
            return served or _json_response(404, {"message": "Not Found"})
        matched = match_route(self.routes, request.method, request.raw_path[len(prefix) :] or "/")
        if matched is None:
            return _json_response(404, {"message": "Not Found"})
        route, path_parameters = matched
        authorizer_context = None
        if route.authorizer is not None:
            authorization = next((v for k, v in request.headers if k.lower() == "authorization"), None)
            try:
                claims = route.authorizer.authorize(authorization)
            except Unauthorized as error:
                challenge = f'Bearer scope="" error="invalid_token" error_description="{error}"'
                return _json_response(401, {"message": "Unauthorized"}, [("www-authenticate", challenge)])
            authorizer_context = {"jwt": {"claims": render_claims(claims), "scopes": scopes(claims)}}
        event = self.event(request, route, path_parameters, authorizer_context)
        payload, errored = self._invoke(route.function_arn, event)
        if errored:
            return _json_response(500, {"message": "Internal Server Error"})
        return to_http_response(payload, str(event["requestContext"]["requestId"]))

    def event(
        self,
        request: Request,
        route: Route,
        path_parameters: dict[str, str],
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers:
            if name.lower() == "cookie":
                cookies += [c.strip() for c in value.split(";") if c.strip()]
            else:  # repeated headers arrive comma-joined
                headers[name.lower()] = (
                    f"{headers[name.lower()]},{value}" if name.lower() in headers else value
                )
        query: dict[str, str] = {}
        for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        now = time.time()
        domain = headers.get("host", f"{self.api_id}.execute-api.us-east-1.amazonaws.com")
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": request.raw_path,
            "rawQueryString": request.raw_query,
        }
        if cookies:
            event["cookies"] = cookies
        event["headers"] = headers
        if query:
            event["queryStringParameters"] = query
        context: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": self.api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": base64.b32encode(uuid.uuid4().bytes)[:16].decode(),
            "routeKey": route.key,
            "stage": self.stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        }
        if authorizer is not None:
            context["authorizer"] = authorizer
        event["requestContext"] = context
        if path_parameters:
            event["pathParameters"] = path_parameters
        if request.body:
            textual = _is_text(headers.get("content-type"), request.body)
            event["body"] = request.body.decode() if textual else base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = not textual
        else:
            event["isBase64Encoded"] = False
        return event


def _is_text(content_type: str | None, body: bytes) -> bool:
    if content_type and not _TEXT_TYPES.match(content_type.strip()):
        return False
    try:  # a "text" body that is not UTF-8 is passed base64-encoded, like any binary body
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def to_http_response(payload: str, request_id: str) -> Response:
    """Payload format 2.0: a dict with statusCode is a response; anything else is a 200 JSON body."""
    result = json.loads(payload)
    headers = [("apigw-requestid", request_id)]
    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else json.dumps(result)
        return Response(200, [*headers, ("content-type", "application/json")], text.encode())
    try:
        status = int(result["statusCode"])
        headers += [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("set-cookie", str(c)) for c in result.get("cookies") or []]
        body_text = result.get("body") or ""
        if not isinstance(body_text, str):
            raise TypeError("body must be a string")
        body = base64.b64decode(body_text) if result.get("isBase64Encoded") else body_text.encode()
    except (TypeError, ValueError):
        return _json_response(500, {"message": "Internal Server Error"})
    return Response(status, headers, body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True  # the body is not read
            response = _json_response(413, {"message": "Request Entity Too Large"})
        else:
            request = Request(
                method=self.command,
                raw_path=url.path,
                raw_query=url.query,
                headers=list(self.headers.items()),
                body=self.rfile.read(length) if length else b"",
                source_ip=self.client_address[0],
            )
            try:
                response = self.server.front.handle(request)
            except Exception:  # noqa: BLE001 - a bug of the emulation is a 500, not a dropped connection
                import traceback

                traceback.print_exc()
                response = _json_response(500, {"message": "Internal Server Error"})
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("date", formatdate(usegmt=True))
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) reaches routing too, where an undeclared one is a 404
        # as the HTTP API answers; http.server would answer 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the functions log; an access line per request would drown them


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    front: HttpApiFront


class HttpServer:
    """Binds at construction (so the URL is known before provisioning), serves after `start(front)`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler, bind_and_activate=True)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, front: HttpApiFront) -> None:
        self._server.front = front
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="http-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
