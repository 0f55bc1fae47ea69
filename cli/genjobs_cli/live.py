"""`watch` over the live channel: redraw when a change of the job arrives, resync on reconnect.

The channel says *that* the job changed (numbered changes, `seq`); the job itself is still read from
the API, so the display is the one polling draws. After a dropped connection the watcher reconnects
and asks `GET /jobs/{id}/events?after=<last seq>` for what it missed; with no frame for a while it
reads the job anyway (the channel is a hint, the API the truth).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlencode

from genjobs_cli.client import Api

IDLE_READ_SECONDS = 30.0  # the job is read at least this often, whatever the channel says
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)  # waits before each reconnect attempt; then it polls


class ChannelUnavailable(Exception):
    """The live channel cannot be opened (no URL, no client library, refused or unreachable)."""


class JobChannel:
    """One job's numbered changes over the live channel, resynced across reconnects."""

    def __init__(self, api: Api, live_url: str, token: str, job_id: str) -> None:
        self.api = api
        self.url = f"{live_url}?{urlencode({'token': token, 'jobId': job_id})}"
        self.job_id = job_id
        self.last_seq = 0
        self.reconnects = 0
        self.lost = False  # it could not reconnect: the watcher polls from then on
        self._socket: Any = None
        self._opened = ExitStack()

    def open(self) -> None:
        try:
            from websockets.sync.client import connect
        except ImportError as error:  # pip install 'genjobs[cli]'
            raise ChannelUnavailable("the websockets package is not installed") from error
        try:
            self._socket = self._opened.enter_context(connect(self.url, open_timeout=10))
        except (OSError, TimeoutError, Exception) as error:
            raise ChannelUnavailable(str(error)) from error

    def close(self) -> None:
        self._opened.close()
        self._socket = None

    def changes(self, timeout: float) -> Iterator[dict[str, Any]]:
        """The job's changes not seen yet that arrive within `timeout` (none: nothing changed);
        a dropped connection is reopened and what it missed read from the API."""
        from websockets.exceptions import ConnectionClosed

        if self._socket is None:  # lost for good
            return
        try:
            raw = self._socket.recv(timeout=timeout)
        except TimeoutError:
            return
        except ConnectionClosed:
            yield from self._reconnect()
            return
        frame = json.loads(raw)
        if frame.get("type") == "change" and frame.get("jobId") == self.job_id:
            if isinstance(frame.get("seq"), int) and frame["seq"] > self.last_seq + 1:
                # Changes came before it that this connection never carried (made before it opened):
                # read them first, so every change is seen once and in order.
                yield from self.missed()
            yield from self._new([frame])

    def _reconnect(self) -> Iterator[dict[str, Any]]:
        self.close()
        for wait in RECONNECT_SECONDS:
            time.sleep(wait)
            try:
                self.open()
            except ChannelUnavailable:
                continue
            self.reconnects += 1
            yield from self.missed()
            return
        self.lost = True

    def missed(self) -> list[dict[str, Any]]:
        """The changes numbered after the last one seen (a page of 100 at a time)."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.api.request(
                "GET", f"/jobs/{self.job_id}/events", params={"after": self.last_seq, "limit": 100}
            )["items"]
            found += list(self._new(page))
            if len(page) < 100:
                return found

    def _new(self, changes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for change in changes:
            if change["seq"] > self.last_seq:  # a change seen live and listed again is shown once
                self.last_seq = change["seq"]
                yield change


def open_channel(api: Api, job_id: str) -> JobChannel | None:
    """The job's live channel, or None when there is none to open (then `watch` polls)."""
    if not api.live_url or not api.token:
        return None
    channel = JobChannel(api, api.live_url, api.token, job_id)
    try:
        channel.open()
    except ChannelUnavailable:
        return None
    return channel


def wait_for_change(channel: JobChannel | None, interval: float) -> None:
    """Until the job may look different: a change arrived (and those right behind it, read as one
    redraw), IDLE_READ_SECONDS passed, or, with no channel (or one lost for good), one polling
    interval."""
    if channel is None or channel.lost:
        time.sleep(interval)
        return
    if any(True for _ in channel.changes(IDLE_READ_SECONDS)):
        while any(True for _ in channel.changes(0.05)):
            pass
