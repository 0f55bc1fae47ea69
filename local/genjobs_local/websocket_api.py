"""The WebSocket API on localhost: API Gateway's WebSocket protocol served by `websockets`.

A client connects to ws://127.0.0.1:<port>/<stage>?...; the template's $connect integration is
invoked with API Gateway's CONNECT event and a non-2xx answer refuses the handshake with that status;
each text frame is routed by the API's RouteSelectionExpression (`$request.body.<field>`) to its
route's function (a route with a route response sends the function's body back as a frame; a frame
no route takes gets API Gateway's `{"message": "Forbidden"}`); closing invokes $disconnect.

The management API (PostToConnection, DeleteConnection, GetConnection) is served over HTTP at the
stage's local endpoint, and a call signed by a role is checked for execute-api:ManageConnections on
the connection's ARN, as AWS checks it: the function's boto3 `apigatewaymanagementapi` client talks
to it unchanged. A post to a connection that is gone answers 410 GoneException.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from genjobs_local import iam
from genjobs_local.intrinsics import ACCOUNT_ID, REGION

Invoke = Callable[[str, Any], tuple[str, bool]]
_ID_CHARACTERS = string.ascii_letters + string.digits


@dataclass(frozen=True)
class SocketRoute:
    key: str  # "$connect", "$disconnect", "$default" or a value of the selection field
    function_arn: str
    answers: bool  # it has a route response: the function's body goes back on the socket


def socket_routes(provisioner: Any, api_logical_id: str) -> tuple[dict[str, SocketRoute], str]:
    """The routes of a WebSocket API of the template, and its selection field (`action`)."""
    api = provisioner.properties[api_logical_id]
    api_id = provisioner.created[api_logical_id].physical_id
    typed = {
        kind: {
            lid: p
            for lid, p in provisioner.properties.items()
            if provisioner.cfn["Resources"][lid]["Type"] == kind
        }
        for kind in (
            "AWS::ApiGatewayV2::Route",
            "AWS::ApiGatewayV2::Integration",
            "AWS::ApiGatewayV2::RouteResponse",
        )
    }
    integrations = {
        provisioner.created[lid].physical_id: str(p["IntegrationUri"])
        .split("/functions/", 1)[1]
        .removesuffix("/invocations")
        for lid, p in typed["AWS::ApiGatewayV2::Integration"].items()
        if p["ApiId"] == api_id
    }
    answered = {p["RouteId"] for p in typed["AWS::ApiGatewayV2::RouteResponse"].values()}
    routes = {}
    for lid, p in typed["AWS::ApiGatewayV2::Route"].items():
        if p["ApiId"] != api_id:
            continue
        function = integrations[str(p["Target"]).removeprefix("integrations/")]
        answers = provisioner.created[lid].physical_id in answered
        routes[p["RouteKey"]] = SocketRoute(p["RouteKey"], function, answers)
    selection = str(api.get("RouteSelectionExpression", "$request.body.action")).removeprefix(
        "$request.body."
    )
    return routes, selection


class WebSocketApi:
    def __init__(
        self,
        *,
        api_id: str,
        stage: str,
        routes: dict[str, SocketRoute],
        selection_field: str,
        invoke: Invoke,
        host: str = "127.0.0.1",
    ) -> None:
        self.api_id = api_id
        self.stage = stage
        self.routes = routes
        self.selection_field = selection_field
        self._invoke = invoke
        self._host = host
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._sockets: dict[str, ServerConnection] = {}
        self._opening: dict[ServerConnection, tuple[str, float, Request]] = {}
        # Accepted by $connect, handshake not finished: a post waits for it rather than finding it gone.
        self._accepted: dict[str, threading.Event] = {}
        self._thread = threading.Thread(target=self._loop.run_forever, name="websocket-api", daemon=True)
        self._management = ThreadingHTTPServer((host, 0), _ManagementHandler)
        self._management.daemon_threads = True
        self._management.api = self  # type: ignore[attr-defined]
        self._management_thread = threading.Thread(
            target=self._management.serve_forever, name="websocket-management", daemon=True
        )
        self.posts = 0  # frames posted to connections (PostToConnection)
        self.connection_seconds = 0.0  # summed over closed connections

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        self._management_thread.start()

    async def _serve(self) -> Server:
        return await serve(self._session, self._host, 0, process_request=self._connect)

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            asyncio.run_coroutine_threadsafe(self._server.wait_closed(), self._loop).result(timeout=10)
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._management.shutdown()
        self._management.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://{self._host}:{port}/{self.stage}"

    @property
    def management_url(self) -> str:
        return f"http://{self._host}:{self._management.server_address[1]}/{self.stage}"

    @property
    def open_connections(self) -> int:
        return len(self._sockets)

    # ---- the socket side ------------------------------------------------------------------------
    async def _connect(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path.rstrip("/") != f"/{self.stage}":
            return connection.respond(403, '{"message":"Forbidden"}\n')
        connection_id = "".join(secrets.choice(_ID_CHARACTERS) for _ in range(14)) + "="
        connected_at = time.time()
        event = self._connect_event(connection_id, connected_at, request)
        status, body = await self._call("$connect", event)
        if not 200 <= status < 300:
            return connection.respond(status, body or "")
        self._opening[connection] = (connection_id, connected_at, request)
        self._accepted[connection_id] = threading.Event()
        return None

    async def _session(self, connection: ServerConnection) -> None:
        connection_id, connected_at, request = self._opening.pop(connection)
        self._sockets[connection_id] = connection
        self._accepted.pop(connection_id).set()
        try:
            async for frame in connection:
                await self._message(connection_id, connected_at, connection, frame)
        except ConnectionClosed:
            pass
        finally:
            self._sockets.pop(connection_id, None)
            self.connection_seconds += time.time() - connected_at
            event = self._disconnect_event(connection_id, connected_at, request, connection)
            if "$disconnect" in self.routes:
                await self._call("$disconnect", event)

    async def _message(
        self, connection_id: str, connected_at: float, connection: ServerConnection, frame: str | bytes
    ) -> None:
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        try:
            selected = json.loads(text).get(self.selection_field)
        except (ValueError, AttributeError):
            selected = None
        key = selected if isinstance(selected, str) and selected in self.routes else "$default"
        if key not in self.routes:
            request_id = uuid.uuid4().hex
            await connection.send(
                json.dumps({"message": "Forbidden", "connectionId": connection_id, "requestId": request_id})
            )
            return
        event = {
            "requestContext": self._context(key, "MESSAGE", connection_id, connected_at, None)
            | {"messageId": uuid.uuid4().hex[:16]},
            "body": text,
            "isBase64Encoded": False,
        }
        _, body = await self._call(key, event)
        if self.routes[key].answers and body:
            await connection.send(body)

    async def _call(self, key: str, event: dict[str, Any]) -> tuple[int, str]:
        route = self.routes[key]
        payload, errored = await self._loop.run_in_executor(None, self._invoke, route.function_arn, event)
        if errored:
            return 502, '{"message": "Internal server error"}'
        answer = json.loads(payload)
        if not isinstance(answer, dict):
            return 200, ""
        return int(answer.get("statusCode", 200)), str(answer.get("body") or "")

    # ---- events in API Gateway's shape ----------------------------------------------------------
    def _context(
        self, key: str, kind: str, connection_id: str, connected_at: float, request: Request | None
    ) -> dict[str, Any]:
        now = time.time()
        user_agent = request.headers.get("User-Agent") if request is not None else None
        return {
            "routeKey": key,
            "eventType": kind,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": formatdate(now, usegmt=True),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": user_agent or ""},
            "requestId": uuid.uuid4().hex[:16],
            "domainName": f"{self.api_id}.execute-api.{REGION}.amazonaws.com",
            "connectionId": connection_id,
            "apiId": self.api_id,
        }

    def _connect_event(self, connection_id: str, connected_at: float, request: Request) -> dict[str, Any]:
        query = parse_qsl(urlsplit(request.path).query, keep_blank_values=True)
        event: dict[str, Any] = _headers(request.headers) | {
            "requestContext": self._context("$connect", "CONNECT", connection_id, connected_at, request),
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = dict(query)
            multi: dict[str, list[str]] = {}
            for name, value in query:
                multi.setdefault(name, []).append(value)
            event["multiValueQueryStringParameters"] = multi
        return event

    def _disconnect_event(
        self, connection_id: str, connected_at: float, request: Request, connection: ServerConnection
    ) -> dict[str, Any]:
        context = self._context("$disconnect", "DISCONNECT", connection_id, connected_at, request)
        code = connection.close_code if connection.close_code is not None else 1006
        context |= {"disconnectStatusCode": code, "disconnectReason": connection.close_reason or ""}
        return _headers(request.headers) | {"requestContext": context, "isBase64Encoded": False}

    # ---- the management API ---------------------------------------------------------------------
    def connection_arn(self, method: str, connection_id: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/{method}/@connections/{connection_id}"

    def socket(self, connection_id: str) -> ServerConnection | None:
        """The open connection (waiting a moment for one whose handshake is finishing), or None."""
        accepted = self._accepted.get(connection_id)
        if accepted is not None:
            accepted.wait(timeout=5)
        return self._sockets.get(connection_id)

    def post(self, connection_id: str, data: bytes) -> bool:
        """Sends a frame; False when the connection is gone."""
        connection = self.socket(connection_id)
        if connection is None:
            return False
        text = data.decode("utf-8", "replace")
        try:
            asyncio.run_coroutine_threadsafe(connection.send(text), self._loop).result(timeout=10)
        except ConnectionClosed:
            return False
        self.posts += 1
        return True

    def close(self, connection_id: str) -> bool:
        connection = self.socket(connection_id)
        if connection is None:
            return False
        asyncio.run_coroutine_threadsafe(connection.close(1000, "closed by the API"), self._loop).result(
            timeout=10
        )
        return True


def _headers(headers: Headers) -> dict[str, Any]:
    multi: dict[str, list[str]] = {}
    for name, value in headers.raw_items():
        multi.setdefault(name, []).append(value)
    return {"headers": {name: values[-1] for name, values in multi.items()}, "multiValueHeaders": multi}


class _ManagementHandler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def _serve(self) -> None:
        api: WebSocketApi = self.server.api  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        prefix = f"/{api.stage}/@connections/"
        if not path.startswith(prefix):
            return self._answer(404, "NotFoundException", {"message": "Not Found"})
        connection_id = unquote(path.removeprefix(prefix))
        arn = api.connection_arn(self.command, connection_id)
        refused = iam.signed_call_refusal(
            self.headers.get("Authorization", ""),
            self.headers.get("X-Amz-Security-Token"),
            "execute-api:ManageConnections",
            arn,
        )
        if refused:
            message = f"User is not authorized to perform: execute-api:ManageConnections on resource: {arn}"
            return self._answer(403, "ForbiddenException", {"message": message})
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "POST":
            found = api.post(connection_id, body)
        elif self.command == "DELETE":
            found = api.close(connection_id)
        else:
            found = api.socket(connection_id) is not None
        if not found:
            return self._answer(410, "GoneException", {"message": None})
        status = 204 if self.command == "DELETE" else 200
        return self._answer(
            status, None, {} if self.command != "GET" else {"identity": {"sourceIp": "127.0.0.1"}}
        )

    do_GET = do_POST = do_DELETE = _serve

    def _answer(self, status: int, error: str | None, payload: dict[str, Any]) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass
