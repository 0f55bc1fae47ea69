"""A simulated asynchronous generation API, served over real HTTP, for local runs and tests.

It behaves like a paid provider (Replicate-like) so the whole system can be exercised without one:
predictions are queued, run with stepwise progress, then succeed, fail or get canceled; creates can
be throttled or fail; status calls can fail; webhooks are signed (Standard Webhooks) and can be
dropped, duplicated or reordered; outputs are downloadable files. Counters at /_sim/stats prove
properties such as "no duplicate paid prediction" or "no submission after cancel".

    server = SimulatorServer(time_scale=0.05).start()
    ... SimulatorProvider(server.base_url, webhook_secret=server.webhook_secret) ...
    server.stop()

API (JSON)
    POST /v1/predictions            {model, input, webhook?}; header Idempotency-Key (same key and
                                    same body -> the same prediction, never a second one; same key
                                    with another body -> 409) -> 201 prediction. With the header
                                    `Prefer: wait=N` (sync mode) the answer waits until the
                                    prediction ended or N schedule seconds passed, and shows it then
    GET  /v1/predictions/{id}       -> prediction
    POST /v1/predictions/{id}/cancel -> prediction (status "canceled" unless it already ended)
    GET  /files/{id}/{n}.{ext}      output n of a succeeded prediction; `?size=N` serves N bytes
                                    (also for an unknown id, to test downloads of any size)
    GET  /_sim/stats                counters, and predictions in flight (created, not yet ended)
                                    per model and in total, now and the peak since the last reset;
                                    POST /_sim/reset clears predictions, counters and peaks

Capacity: `SimulatorServer(capacity={"sim-image": 5})` (or `set_capacity`) gives a model a limit of
predictions in flight, like a provider's account concurrency: a create beyond it answers 429 with
Retry-After (until its first prediction in flight ends, in whole schedule seconds), counted as
`over_capacity`.
A replayed create (same Idempotency-Key) is never refused: its prediction exists already.

    A prediction is {id, model, input, status: queued|running|succeeded|failed|canceled,
    progress 0-100, outputs [urls], error, queue_position, created_at, started_at, completed_at,
    urls {get, cancel}}. An output is a file URL, or a data: URI when it is inline.

Outputs (sim_outputs.py): `png` an image; `json` a language model's answer ({"text": ...}, or with
input `"format": "script"` a video script, one scene per paragraph of input.prompt or
input.document, at most input.maxScenes); `txt` the same completion as plain text; `wav` silence
as long as reading input.text; `mp4` a video whose `free` box holds the model and input it was made
from. Text is always inline. The catalog's simulator models have defaults (MODEL_DEFAULTS: sim-llm
answers json, sim-tts inline wav, sim-image-sync an inline png, sim-avatar and sim-background mp4).

Per-task behaviour: options under the key "sim" of the prediction's input (all optional).
Durations are in schedule seconds; wall seconds = schedule seconds * time_scale.
    queueSeconds   float  time queued before running (default 0.5)
    latency        float  running time (default 2)
    progressSteps  int    progress moves in this many equal steps while running (default 4)
    fail           str    end as failed with this error message instead of succeeding
    failAttempts   int    only the first N predictions of this task fail (with `fail`'s message, or a
                          default one): its later attempts succeed. A task is its idempotency key
                          without the attempt genjobs appends to a retried task's key (`:a2`)
    neverFinish    bool   stay running forever (progress stops below 100)
    rawStatus      str    report this status string instead of the real one (unknown statuses)
    outputs        int    number of output files (default 1); 0 is a success that delivers nothing
    outputFormat   str    output file extension (default "png"; png, json, txt, wav and mp4 are
                          real contents, any other is a PNG; all are `outputBytes` when given)
    inline         bool   outputs come in the prediction as base64 data: URIs, not as file URLs
    outputBytes    int    each output is this many deterministic bytes
    truncateOutput bool   file responses announce the full Content-Length but send half, then close
    truncateDownloads int the first N downloads of each output are truncated that way, then whole
    downloadDelay  float  wall seconds each output download waits before its first byte (a slow CDN)
    expireOutputs  float  outputs answer 404 this long after completion (Replicate deletes at 1 h);
                          0 makes a success whose outputs can never be downloaded
    expiredStatus  int    the status an expired output answers: 404 (default) or 410 (Gone)
    throttle       int    the first N creates of this idempotency key get 429 + Retry-After
    retryAfter     float  the throttle's reset time (default 30; scaled; in header and body text)
    serverErrors   int    the next N creates of this key (after throttling) get 500
    dropResponses  int    the next N creates are *processed* but the connection is closed without an
                          answer (the ambiguous case that idempotency keys exist for)
    statusErrors   int    the first N status calls of this prediction get 500
    unreachable    bool   every create of this task has its connection closed: a connection error
    webhook        {drop: bool (send none), duplicate: bool (send each delivery twice, same
                    webhook-id), outOfOrder: bool (hold "running" until after the terminal one)}

Webhooks: when `webhook` was given, the prediction (JSON) is POSTed on every status change (running,
then the terminal one), signed with `webhook_secret`; a failed delivery is tried 3 times in all.
Like a provider's, deliveries go out concurrently (WEBHOOK_SENDERS at once), one prediction's in
order: a prediction's webhooks never wait behind other predictions' slow ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genjobs.providers.webhooks import signed_headers
from genjobs_local import sim_outputs

WEBHOOK_SENDERS = 8

DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"genjobs-simulator-webhook-key!!").decode()
_WEBHOOK_ATTEMPT_DELAYS = (0.0, 1.0, 5.0)  # schedule seconds after the first attempt
_TERMINAL = frozenset({"succeeded", "failed", "canceled"})
# What genjobs appends to the idempotency key of a retried task's attempt (logic.tasks.submission_key).
_ATTEMPT_SUFFIX = re.compile(r":a\d+$")
_PREFER_WAIT = re.compile(r"(?:^|[\s,;])wait=(\d+(?:\.\d+)?)")


class WebhookOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    drop: bool = False
    duplicate: bool = False
    out_of_order: bool = Field(default=False, alias="outOfOrder")


class SimOptions(BaseModel):
    """The documented "sim" options; unknown keys are rejected so a typo does not pass silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    queue_seconds: float = Field(default=0.5, alias="queueSeconds", ge=0)
    latency: float = Field(default=2.0, ge=0)
    progress_steps: int = Field(default=4, alias="progressSteps", ge=1)
    fail: str | None = None
    fail_attempts: int = Field(default=0, alias="failAttempts", ge=0)
    never_finish: bool = Field(default=False, alias="neverFinish")
    raw_status: str | None = Field(default=None, alias="rawStatus")
    outputs: int = Field(default=1, ge=0, le=100)
    output_format: str = Field(default="png", alias="outputFormat", pattern=r"^[a-z0-9]{1,8}$")
    output_bytes: int | None = Field(default=None, alias="outputBytes", ge=0, le=512 * 1024 * 1024)
    inline: bool = False
    truncate_output: bool = Field(default=False, alias="truncateOutput")
    truncate_downloads: int = Field(default=0, alias="truncateDownloads", ge=0)
    download_delay: float = Field(default=0.0, alias="downloadDelay", ge=0, le=60)
    expire_outputs: float | None = Field(default=None, alias="expireOutputs", ge=0)
    expired_status: Literal[404, 410] = Field(default=404, alias="expiredStatus")
    throttle: int = Field(default=0, ge=0)
    retry_after: float = Field(default=30.0, alias="retryAfter", ge=0)
    server_errors: int = Field(default=0, alias="serverErrors", ge=0)
    drop_responses: int = Field(default=0, alias="dropResponses", ge=0)
    status_errors: int = Field(default=0, alias="statusErrors", ge=0)
    unreachable: bool = False
    webhook: WebhookOptions = Field(default_factory=WebhookOptions)


@dataclass
class _Delivery:
    prediction_id: str
    webhook_id: str
    body: bytes
    terminal: bool
    attempts: int = 0
    due: float = 0.0


@dataclass
class _Prediction:
    id: str
    model: str
    input: dict[str, Any]
    sim: SimOptions
    webhook: str | None
    body_hash: str
    created_mono: float
    created_epoch: float
    canceled_mono: float | None = None
    status_calls: int = 0
    downloads: Counter[int] = field(default_factory=Counter)
    notified: list[str] = field(default_factory=list)
    held: list[_Delivery] = field(default_factory=list)
    outbox: list[_Delivery] = field(default_factory=list)
    inline_outputs: list[str] | None = None  # made once, at the first view that shows them


class _InFlight:
    """Predictions created and not yet ended, per model, with the peak of each count.

    A prediction's end is known when it is created (its schedule) or cancelled, so the counts are
    exact at any moment: ended ones are dropped when the counts are read. They only rise at a
    create, so the peaks, taken there, are the true maxima.
    """

    def __init__(self) -> None:
        self.ends: dict[str, dict[str, float]] = {}  # model -> prediction id -> monotonic end
        self.peak_by_model: Counter[str] = Counter()
        self.peak_total = 0

    def clear(self) -> None:
        self.ends.clear()
        self.peak_by_model.clear()
        self.peak_total = 0

    def prune(self, now: float) -> None:
        for ends in self.ends.values():
            for prediction_id in [i for i, end in ends.items() if end <= now]:
                del ends[prediction_id]

    def count(self, model: str, now: float) -> int:
        self.prune(now)
        return len(self.ends.get(model, {}))

    def earliest_end(self, model: str) -> float:
        return min(self.ends.get(model, {}).values(), default=math.inf)

    def add(self, model: str, prediction_id: str, end: float, now: float) -> None:
        self.prune(now)
        self.ends.setdefault(model, {})[prediction_id] = end
        self.peak_by_model[model] = max(self.peak_by_model[model], len(self.ends[model]))
        self.peak_total = max(self.peak_total, sum(len(e) for e in self.ends.values()))

    def end(self, model: str, prediction_id: str) -> None:
        self.ends.get(model, {}).pop(prediction_id, None)

    def stats(self, now: float) -> dict[str, Any]:
        self.prune(now)
        by_model = {model: len(ends) for model, ends in self.ends.items() if ends}
        return {
            "in_flight": {"total": sum(by_model.values()), "by_model": by_model},
            "peak_in_flight": {"total": self.peak_total, "by_model": dict(self.peak_by_model)},
        }


class _SimState:
    """All mutable state, guarded by one lock (the HTTP server and the webhook thread share it)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.predictions: dict[str, _Prediction] = {}
        self.by_key: dict[str, str] = {}
        self.counters: Counter[str] = Counter()
        self.attempts_per_key: Counter[str] = Counter()
        self.creates_per_key: Counter[str] = Counter()
        # Predictions made per task (an idempotency key without its attempt): failAttempts.
        self.predictions_per_task: Counter[str] = Counter()
        self.in_flight = _InFlight()

    def reset(self) -> None:
        with self.lock:
            self.predictions.clear()
            self.by_key.clear()
            self.counters.clear()
            self.attempts_per_key.clear()
            self.creates_per_key.clear()
            self.predictions_per_task.clear()
            self.in_flight.clear()

    def stats(self) -> dict[str, Any]:
        with self.lock:
            names = (
                "predictions_created",
                "create_calls",
                "cancels",
                "status_calls",
                "throttled",
                "over_capacity",
                "server_errors",
                "dropped_responses",
                "unreachable",
                "webhook_deliveries",
                "webhook_failures",
                "webhooks_dropped",
                "file_downloads",
            )
            stats: dict[str, Any] = {name: self.counters[name] for name in names}
            stats["creates_per_key"] = dict(self.creates_per_key)
            stats["submit_attempts_per_key"] = dict(self.attempts_per_key)
            stats.update(self.in_flight.stats(time.monotonic()))
            return stats


class SimulatorServer:
    """The simulator on a background thread. `port=0` picks a free port; see `base_url`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        api_token: str | None = None,
        capacity: dict[str, int] | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.capacity: dict[str, int] = dict(capacity or {})
        self.webhook_secret = webhook_secret
        self.api_token = api_token
        self.state = _SimState()
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._webhook_session = requests.Session()
        self._webhook_session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=WEBHOOK_SENDERS))
        self._senders = ThreadPoolExecutor(WEBHOOK_SENDERS, thread_name_prefix="sim-webhook")
        self._sending: set[str] = set()  # predictions whose deliveries are out (under state.lock)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SimulatorServer:
        self._threads = [
            threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-http", daemon=True
            ),
            threading.Thread(target=self._webhook_loop, name="sim-webhooks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._senders.shutdown(wait=True, cancel_futures=True)
        self._webhook_session.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def reset(self) -> None:
        self.state.reset()

    def set_capacity(self, capacity: dict[str, int]) -> None:
        """Limits of predictions in flight per model from now on (none: unlimited)."""
        with self.state.lock:
            self.capacity = dict(capacity)

    def over_capacity(self, model: str) -> float | None:
        """Wall seconds until a slot of `model` frees when it is full, else None. Call under the lock."""
        limit = self.capacity.get(model)
        now = time.monotonic()
        if limit is None or self.state.in_flight.count(model, now) < limit:
            return None
        # Predictions that never finish hold their slot until cancelled: then a throttle's usual wait.
        end = self.state.in_flight.earliest_end(model)
        return end - now if math.isfinite(end) else self.wall(SimOptions().retry_after)

    # ---- prediction model -------------------------------------------------------------

    def wall(self, schedule_seconds: float) -> float:
        return schedule_seconds * self.time_scale

    def view(self, p: _Prediction, now: float | None = None, report_raw: bool = True) -> dict[str, Any]:
        """The prediction as the API shows it at `now` (monotonic); state is derived from time.

        `report_raw=False` gives the true status even when `rawStatus` overrides what is reported.
        """
        now = time.monotonic() if now is None else now
        at = min(now, p.canceled_mono) if p.canceled_mono is not None else now
        elapsed = (at - p.created_mono) / self.time_scale
        sim = p.sim
        started: float | None = None
        completed: float | None = None
        error: str | None = None
        outputs: list[str] = []
        if elapsed < sim.queue_seconds:
            status, progress = "queued", 0.0
        elif sim.never_finish or elapsed < sim.queue_seconds + sim.latency:
            status = "running"
            started = sim.queue_seconds
            fraction = (elapsed - sim.queue_seconds) / sim.latency if sim.latency > 0 else 1.0
            step = min(math.floor(fraction * sim.progress_steps), sim.progress_steps - 1)
            progress = round(100.0 * step / sim.progress_steps, 2)
        else:
            started = sim.queue_seconds
            completed = sim.queue_seconds + sim.latency
            if sim.fail:
                status, error = "failed", sim.fail
                progress = round(100.0 * (sim.progress_steps - 1) / sim.progress_steps, 2)
            else:
                status, progress = "succeeded", 100.0
                outputs = self._outputs(p)
        if p.canceled_mono is not None and status in ("queued", "running"):
            status = "canceled"
            completed = (p.canceled_mono - p.created_mono) / self.time_scale
        queue_position = None
        if status == "queued":
            queue_position = sum(
                1
                for other in self.state.predictions.values()
                if other.created_mono < p.created_mono and self._is_queued(other, now)
            )
        return {
            "id": p.id,
            "model": p.model,
            "input": p.input,
            "status": (sim.raw_status or status) if report_raw else status,
            "progress": progress,
            "outputs": outputs,
            "error": error,
            "queue_position": queue_position,
            "created_at": _iso(p.created_epoch),
            "started_at": _iso(p.created_epoch + self.wall(started)) if started is not None else None,
            "completed_at": _iso(p.created_epoch + self.wall(completed)) if completed is not None else None,
            "urls": {
                "get": f"{self.base_url}/v1/predictions/{p.id}",
                "cancel": f"{self.base_url}/v1/predictions/{p.id}/cancel",
            },
        }

    def _outputs(self, p: _Prediction) -> list[str]:
        fmt = p.sim.output_format
        if not p.sim.inline and fmt not in sim_outputs.TEXT_FORMATS:
            return [f"{self.base_url}/files/{p.id}/{n}.{fmt}" for n in range(p.sim.outputs)]
        if p.inline_outputs is None:
            p.inline_outputs = [
                sim_outputs.data_uri(self.output_content(p, n), fmt) for n in range(p.sim.outputs)
            ]
        return p.inline_outputs

    def output_content(self, p: _Prediction, index: int) -> bytes:
        seed = f"{p.id}/{index}".encode()
        if p.sim.output_bytes is not None:
            return sim_outputs.deterministic_bytes(seed, p.sim.output_bytes)
        return sim_outputs.content(p.model, p.input, seed, p.sim.output_format)

    def await_end(self, p: _Prediction, schedule_seconds: float) -> None:
        """Returns once the prediction ended (or was canceled), or `schedule_seconds` passed."""
        deadline = time.monotonic() + self.wall(schedule_seconds)
        while True:
            with self.state.lock:
                if self.real_status(p) in _TERMINAL:
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.wait(min(remaining, 0.01)):
                return

    def _is_queued(self, p: _Prediction, now: float) -> bool:
        return p.canceled_mono is None and (now - p.created_mono) / self.time_scale < p.sim.queue_seconds

    def real_status(self, p: _Prediction, now: float | None = None) -> str:
        """The status ignoring `rawStatus` (which only changes what is reported)."""
        return str(self.view(p, now, report_raw=False)["status"])

    def completed_mono(self, p: _Prediction) -> float:
        return p.created_mono + self.wall(p.sim.queue_seconds + p.sim.latency)

    def end_mono(self, p: _Prediction) -> float:
        """When the prediction ends (succeeds, fails or is cancelled): never, for one that never finishes."""
        if p.canceled_mono is not None:
            return p.canceled_mono
        return math.inf if p.sim.never_finish else self.completed_mono(p)

    # ---- webhooks -------------------------------------------------------------------------

    def _webhook_loop(self) -> None:
        while not self._stopping.wait(0.01):
            for prediction_id, url, deliveries in self._collect_due_deliveries():
                self._senders.submit(self._deliver_in_order, prediction_id, url, deliveries)

    def _collect_due_deliveries(self) -> list[tuple[str, str, list[_Delivery]]]:
        """Each prediction's deliveries due now, in order; none of a prediction whose earlier ones
        are still going out (they come at a later tick, still in order)."""
        due: list[tuple[str, str, list[_Delivery]]] = []
        now = time.monotonic()
        with self.state.lock:
            for p in self.state.predictions.values():
                if not p.webhook or p.id in self._sending:
                    continue
                for status, at in self._transitions(p, now):
                    if status not in p.notified:
                        self._queue_delivery(p, status, at, now)
                ready = [d for d in p.outbox if d.due <= now]
                if ready:
                    p.outbox = [d for d in p.outbox if d.due > now]
                    self._sending.add(p.id)
                    due.append((p.id, p.webhook, ready))
        return due

    def _deliver_in_order(self, prediction_id: str, url: str, deliveries: list[_Delivery]) -> None:
        try:
            for delivery in deliveries:
                self._deliver(url, delivery)
        finally:
            with self.state.lock:
                self._sending.discard(prediction_id)

    def _transitions(self, p: _Prediction, now: float) -> list[tuple[str, float]]:
        """Status changes up to `now`, each with the moment it happened.

        Derived from the schedule rather than sampled, so a running phase shorter than the
        dispatcher's tick still gets its delivery.
        """
        changes: list[tuple[str, float]] = []
        # Just after the start: at the exact boundary float rounding could still say "queued".
        started = p.created_mono + self.wall(p.sim.queue_seconds + 1e-6)
        ran = p.sim.never_finish or p.sim.latency > 1e-6
        canceled_first = p.canceled_mono is not None and p.canceled_mono < started
        if ran and not canceled_first and started <= now:
            changes.append(("running", started))
        status = self.real_status(p, now)
        if status in _TERMINAL:
            changes.append((status, now))
        return changes

    def _queue_delivery(self, p: _Prediction, status: str, at: float, now: float) -> None:
        p.notified.append(status)
        terminal = status in ("succeeded", "failed", "canceled")
        body = json.dumps(self.view(p, at)).encode()
        options = p.sim.webhook
        if options.drop:
            self.state.counters["webhooks_dropped"] += 1
            return
        webhook_id = f"msg_{p.id}_{len(p.notified)}"
        copies = [
            _Delivery(p.id, webhook_id, body, terminal, due=now) for _ in range(2 if options.duplicate else 1)
        ]
        if options.out_of_order and not terminal:
            p.held.extend(copies)
            return
        p.outbox.extend(copies)
        if terminal:
            for held in p.held:  # released only after the terminal delivery
                held.due = now + 0.001
            p.outbox.extend(p.held)
            p.held.clear()

    def _deliver(self, url: str, delivery: _Delivery) -> None:
        delivery.attempts += 1
        headers = signed_headers(self.webhook_secret, delivery.webhook_id, delivery.body)
        try:
            response = self._webhook_session.post(url, data=delivery.body, headers=headers, timeout=(2, 5))
            ok = response.ok
        except requests.RequestException:
            ok = False
        with self.state.lock:
            self.state.counters["webhook_deliveries"] += 1
            if ok:
                return
            self.state.counters["webhook_failures"] += 1
            if delivery.attempts < len(_WEBHOOK_ATTEMPT_DELAYS):
                delivery.due = time.monotonic() + self.wall(_WEBHOOK_ATTEMPT_DELAYS[delivery.attempts])
                prediction = self.state.predictions.get(delivery.prediction_id)
                if prediction is not None:
                    prediction.outbox.append(delivery)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


_PREDICTION = re.compile(r"^/v1/predictions/([^/]+)$")
_CANCEL = re.compile(r"^/v1/predictions/([^/]+)/cancel$")
_FILE = re.compile(r"^/files/([^/]+)/(\d+)\.([a-z0-9]{1,8})$")


def _make_handler(sim: SimulatorServer) -> type[BaseHTTPRequestHandler]:
    state = sim.state

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so adapters' connection reuse is exercised
        _body: tuple[bytes, Any] = (b"", None)

        def log_message(self, format: str, *args: Any) -> None:
            return

        # ---- plumbing -------------------------------------------------------------------

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _drop_connection(self) -> None:
            # No status line at all: the client sees the connection closed under it.
            self.close_connection = True

        def _read_json(self) -> tuple[bytes, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return raw, json.loads(raw) if raw else None
            except ValueError:
                return raw, None

        def _authorized(self) -> bool:
            if sim.api_token is None or self.headers.get("Authorization") == f"Bearer {sim.api_token}":
                return True
            self._send(401, {"detail": "Invalid token."})
            return False

        # ---- routes ---------------------------------------------------------------------

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/_sim/stats":
                self._send(200, sim.stats())
            elif match := _PREDICTION.match(url.path):
                if self._authorized():
                    self._get_prediction(match.group(1))
            elif match := _FILE.match(url.path):
                self._get_file(match.group(1), int(match.group(2)), match.group(3), parse_qs(url.query))
            else:
                self._send(404, {"detail": "Not found."})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            # Read the body first, whatever the answer: unread bytes would corrupt the kept-alive connection.
            self._body = self._read_json()
            if path == "/_sim/reset":
                sim.reset()
                self._send(200, {"reset": True})
            elif not self._authorized():
                return
            elif path == "/v1/predictions":
                self._create()
            elif match := _CANCEL.match(path):
                self._cancel(match.group(1))
            else:
                self._send(404, {"detail": "Not found."})

        def _create(self) -> None:
            _, body = self._body
            if not isinstance(body, dict) or not isinstance(body.get("model"), str):
                self._send(400, {"detail": "body must be a JSON object with 'model' and 'input'"})
                return
            model_input = body.get("input")
            if not isinstance(model_input, dict):
                self._send(400, {"detail": "'input' must be a JSON object"})
                return
            requested = model_input.get("sim") or {}
            defaults = sim_outputs.MODEL_DEFAULTS.get(body["model"], {})
            try:
                options = SimOptions.model_validate(
                    {**defaults, **requested} if isinstance(requested, dict) else requested
                )
            except ValidationError as exc:
                self._send(422, {"detail": f"invalid sim options: {exc.errors(include_url=False)}"})
                return
            body_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            key = self.headers.get("Idempotency-Key") or ""
            counting_key = key or f"body:{body_hash}"
            with state.lock:
                state.counters["create_calls"] += 1
                state.attempts_per_key[counting_key] += 1
                attempt = state.attempts_per_key[counting_key]
                if options.unreachable:
                    state.counters["unreachable"] += 1
                    self._drop_connection()
                    return
                if attempt <= options.throttle:
                    state.counters["throttled"] += 1
                    wait = sim.wall(options.retry_after)
                    self._send(
                        429,
                        {"detail": f"Request was throttled. Your rate limit resets in ~{wait:g}s."},
                        {"Retry-After": f"{wait:g}"},
                    )
                    return
                if attempt <= options.throttle + options.server_errors:
                    state.counters["server_errors"] += 1
                    self._send(500, {"detail": "Internal server error (simulated)"})
                    return
                existing = state.predictions.get(state.by_key.get(key, "")) if key else None
                if existing is not None and existing.body_hash != body_hash:
                    self._send(409, {"detail": "Idempotency-Key was already used with a different request"})
                    return
                replayed = existing is not None
                full_for = None if replayed else sim.over_capacity(body["model"])
                if full_for is not None:
                    state.counters["over_capacity"] += 1
                    # Whole schedule seconds, as HTTP's delay-seconds and Replicate's "available in 1 second".
                    full_for = sim.wall(max(1, math.ceil(full_for / sim.time_scale)))
                    self._send(
                        429,
                        {
                            "detail": f"Too many predictions in flight. Expected available in {full_for:g} seconds."
                        },
                        {"Retry-After": f"{full_for:g}"},
                    )
                    return
                prediction = existing or self._new_prediction(body, model_input, options, body_hash, key)
                if attempt <= options.throttle + options.server_errors + options.drop_responses:
                    state.counters["dropped_responses"] += 1
                    self._drop_connection()
                    return
            preferred = _PREFER_WAIT.search(self.headers.get("Prefer") or "")
            if preferred:
                sim.await_end(prediction, float(preferred.group(1)))
            with state.lock:
                view = sim.view(prediction)
            self._send(201, view, {"Idempotent-Replayed": "true"} if replayed else None)

        def _new_prediction(
            self,
            body: dict[str, Any],
            model_input: dict[str, Any],
            options: SimOptions,
            body_hash: str,
            key: str,
        ) -> _Prediction:
            webhook = body.get("webhook")
            if options.fail_attempts:
                task = _ATTEMPT_SUFFIX.sub("", key) if key else f"body:{body_hash}"
                state.predictions_per_task[task] += 1
                failing = state.predictions_per_task[task] <= options.fail_attempts
                made = state.predictions_per_task[task]
                fail = (options.fail or f"simulated failure of attempt {made}") if failing else None
                options = options.model_copy(update={"fail": fail})
            prediction = _Prediction(
                id=uuid.uuid4().hex[:20],
                model=body["model"],
                input=model_input,
                sim=options,
                webhook=webhook if isinstance(webhook, str) and webhook else None,
                body_hash=body_hash,
                created_mono=time.monotonic(),
                created_epoch=time.time(),
            )
            state.predictions[prediction.id] = prediction
            state.counters["predictions_created"] += 1
            state.in_flight.add(
                prediction.model, prediction.id, sim.end_mono(prediction), prediction.created_mono
            )
            if key:
                state.by_key[key] = prediction.id
                state.creates_per_key[key] += 1
            return prediction

        def _get_prediction(self, prediction_id: str) -> None:
            with state.lock:
                state.counters["status_calls"] += 1
                prediction = state.predictions.get(prediction_id)
                if prediction is None:
                    self._send(404, {"detail": "Not found."})
                    return
                prediction.status_calls += 1
                if prediction.status_calls <= prediction.sim.status_errors:
                    self._send(500, {"detail": "Internal server error (simulated)"})
                    return
                view = sim.view(prediction)
            self._send(200, view)

        def _cancel(self, prediction_id: str) -> None:
            with state.lock:
                state.counters["cancels"] += 1
                prediction = state.predictions.get(prediction_id)
                if prediction is None:
                    self._send(404, {"detail": "Not found."})
                    return
                now = time.monotonic()
                cancelable = sim.real_status(prediction, now) in ("queued", "running")
                if prediction.canceled_mono is None and cancelable:
                    prediction.canceled_mono = now
                    state.in_flight.end(prediction.model, prediction.id)
                view = sim.view(prediction, now)
            self._send(200, view)

        def _get_file(self, prediction_id: str, index: int, ext: str, query: dict[str, list[str]]) -> None:
            size_param = query.get("size", [None])[0]
            with state.lock:
                prediction = state.predictions.get(prediction_id)
                available = prediction is not None and self._file_available(prediction, index)
                options = prediction.sim if prediction else None
                state.counters["file_downloads"] += 1
                truncate = False
                if prediction is not None and options is not None:
                    prediction.downloads[index] += 1
                    truncate = options.truncate_output or (
                        prediction.downloads[index] <= options.truncate_downloads
                    )
            if size_param is not None:
                data = sim_outputs.deterministic_bytes(
                    f"{prediction_id}/{index}".encode(), max(0, int(size_param))
                )
            elif prediction is not None and available:
                data = sim.output_content(prediction, index)
            else:
                status = options.expired_status if options is not None else 404
                self._send(status, {"detail": "Not found (no such output, or it expired)."})
                return
            content_type = sim_outputs.content_type(ext)
            if options is not None and options.download_delay:
                time.sleep(options.download_delay)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest()[:32] + '"')
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if truncate else data)
            if truncate:
                self.close_connection = True

        def _file_available(self, prediction: _Prediction, index: int) -> bool:
            if sim.real_status(prediction) != "succeeded" or index >= prediction.sim.outputs:
                return False
            expire = prediction.sim.expire_outputs
            return expire is None or time.monotonic() < sim.completed_mono(prediction) + sim.wall(expire)

    return Handler
