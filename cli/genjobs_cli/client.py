"""HTTP to the genjobs API, and every failure mapped to an exit code scripts can rely on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import requests

TIMEOUT = 30  # seconds per request


class ExitCode(IntEnum):
    OK = 0
    JOB_UNSUCCESSFUL = 1  # `watch`: the job ended FAILED or CANCELLED
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    INSUFFICIENT_CREDITS = 5
    AUTH = 6
    VALIDATION = 7
    SERVER = 8  # 5xx, unreadable answers, network failures
    INTERRUPTED = 130  # Ctrl-C while watching (the job keeps running)


_BY_STATUS = {
    400: ExitCode.VALIDATION,
    401: ExitCode.AUTH,
    402: ExitCode.INSUFFICIENT_CREDITS,
    403: ExitCode.AUTH,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    413: ExitCode.VALIDATION,
    422: ExitCode.VALIDATION,
}


def exit_code_for_status(status: int) -> ExitCode:
    """The exit code of an HTTP error status; unknown 4xx are usage errors, the rest server errors."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ExitCode.USAGE if 400 <= status < 500 else ExitCode.SERVER


@dataclass(eq=False)  # raised and caught, never compared; stays hashable
class ApiError(Exception):
    """An RFC 9457 problem (or whatever the API or the network answered instead)."""

    status: int | None  # None: no HTTP answer at all
    title: str
    detail: str = ""
    errors: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}" if self.detail else self.title

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.SERVER if self.status is None else exit_code_for_status(self.status)

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = response.text.strip()[:500]
            return cls(response.status_code, response.reason or f"HTTP {response.status_code}", text)
        # Problem details from the function; {"message": ...} from API Gateway itself (401, 413, 5xx).
        title = str(body.get("title") or body.get("message") or response.reason or "Error")
        errors = [
            {"field": str(e.get("field", "")), "reason": str(e.get("reason", ""))}
            for e in body.get("errors") or []
            if isinstance(e, dict)
        ]
        return cls(response.status_code, title, str(body.get("detail") or ""), errors)


class Api:
    """The genjobs API as one caller (one bearer token) sees it."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        session: requests.Session | None = None,
        live_url: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.live_url = live_url  # the live channel (WebSocket), when there is one
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON body (None when empty); raises ApiError for any error answer or failure."""
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(
                method, url, params=params, json=json, headers=headers, timeout=TIMEOUT
            )
        except requests.RequestException as error:
            raise ApiError(None, "Cannot reach the API", f"{method} {url}: {error}") from error
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ApiError(response.status_code, "Unreadable answer", response.text[:200]) from error

    # ---- jobs -------------------------------------------------------------------------------------
    def create_job(self, body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return dict(self.request("POST", "/jobs", json=body, headers=headers))

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/jobs/{job_id}"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/jobs/{job_id}/cancel"))

    def pause(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/jobs/{job_id}/pause"))

    def resume(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/jobs/{job_id}/resume"))

    def retry(self, job_id: str, include: list[str], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return dict(self.request("POST", f"/jobs/{job_id}/retry", json={"include": include}, headers=headers))

    def signal(
        self, job_id: str, name: str, decision: str, data: dict[str, Any] | None, reason: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"decision": decision}
        if data is not None:
            body["data"] = data
        if reason:
            body["reason"] = reason
        return dict(self.request("POST", f"/jobs/{job_id}/signals/{name}", json=body))

    def jobs_page(
        self,
        *,
        status: str | None = None,
        collection_id: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        params = {"status": status, "collectionId": collection_id, "limit": limit, "cursor": cursor}
        return dict(self.request("GET", "/jobs", params={k: v for k, v in params.items() if v is not None}))

    def pages(self, path: str, *, limit: int = 100, cursor: str | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a paginated route, following `cursor` until there is none."""
        while True:
            params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            page = dict(self.request("GET", path, params=params))
            yield page
            cursor = page.get("cursor")
            if not cursor:
                return

    def tasks(self, job_id: str) -> Iterator[dict[str, Any]]:
        for page in self.pages(f"/jobs/{job_id}/tasks"):
            yield from page["items"]

    def events(self, job_id: str) -> Iterator[dict[str, Any]]:
        for page in self.pages(f"/jobs/{job_id}/events"):
            yield from page["items"]

    # ---- credits, plans and devices --------------------------------------------------------------
    def credits(self) -> dict[str, Any]:
        return dict(self.request("GET", "/credits"))

    def grant(self, user: str, amount: int, grant_id: str, reason: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"userId": user, "amount": amount, "grantId": grant_id}
        if reason:
            body["reason"] = reason
        return dict(self.request("POST", "/admin/credits", json=body))

    # ---- plans ------------------------------------------------------------------------------------
    def me(self) -> dict[str, Any]:
        return dict(self.request("GET", "/me"))

    def plans(self) -> dict[str, Any]:
        return dict(self.request("GET", "/plans"))

    def user(self, user: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/admin/users/{user}"))

    def set_plan(self, user: str, plan: str | None) -> dict[str, Any]:
        return dict(self.request("PUT", f"/admin/users/{user}/plan", json={"plan": plan}))

    def register_device(self, platform: str, device_token: str) -> dict[str, Any]:
        return dict(self.request("POST", "/devices", json={"platform": platform, "token": device_token}))

    def delete_device(self, device_id: str) -> None:
        self.request("DELETE", f"/devices/{device_id}")


def download(url: str, target: Path) -> int:
    """Stream a (presigned) output URL into `target` atomically; returns the bytes written.

    No Authorization header: presigned URLs carry their own signature and S3 rejects a second one.
    """
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with requests.get(url, stream=True, timeout=TIMEOUT) as response:
            if response.status_code >= 400:
                raise ApiError.from_response(response)
            written = 0
            with partial.open("wb") as out:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    written += len(chunk)
        partial.replace(target)
        return written
    except requests.RequestException as error:
        raise ApiError(None, "Cannot download an output", f"{url.split('?')[0]}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
