"""Output custody: each output the provider reported is kept in our store, under the job's key, or
the task learns whether to try again (unavailable) or give up (gone)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
import requests

from genjobs.logic import outputs
from genjobs.logic.outputs import OutputGone, OutputUnavailable, keep_outputs, output_key
from genjobs.models.domain import Job
from tests.unit.fakes import FakeDeps, data_uri
from tests.unit.scenario import USER, created, granted, job_of


class Download:
    """One HTTP answer of the provider's file server, streamed as requests streams it."""

    def __init__(
        self, body: bytes = b"", *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self.status_code = status
        self.headers = {"Content-Type": "image/png", "Content-Length": str(len(body)), **(headers or {})}
        self.raw = io.BytesIO(body)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}", response=self)  # type: ignore[arg-type]

    def __enter__(self) -> Download:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Server:
    def __init__(self, answers: dict[str, Download | Exception]) -> None:
        self.answers = answers

    def get(self, url: str, **_: Any) -> Download:
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def job(deps: FakeDeps) -> Job:
    granted(deps)
    return job_of(deps, created(deps, 1))


def serving(monkeypatch: pytest.MonkeyPatch, **answers: Download | Exception) -> None:
    server = Server({f"https://provider.example/{name.replace('_', '.')}": a for name, a in answers.items()})
    monkeypatch.setattr(outputs, "_session", lambda: server)


def test_a_data_uri_output_is_kept_in_the_store_with_its_type(deps: FakeDeps, job: Job) -> None:
    # WHEN a task's inline output is kept
    (kept,) = keep_outputs(deps, job, 4, [data_uri("hello")])
    # THEN its bytes are in the store under the user's job and task, with no source recorded
    assert kept.key == output_key(USER, job.job_id, 4, 0, ".txt")
    assert deps.storage.objects[kept.key][0] == b"hello"
    assert (kept.content_type, kept.size, kept.source_url) == ("text/plain", 5, None)


def test_outputs_are_kept_in_order_under_numbered_keys(deps: FakeDeps, job: Job) -> None:
    kept = keep_outputs(deps, job, 0, [data_uri("a"), data_uri("bb")])
    assert [o.key.rsplit("/", 1)[-1] for o in kept] == ["0.txt", "1.txt"]
    assert [o.size for o in kept] == [1, 2]


def test_keeping_again_writes_the_same_keys(deps: FakeDeps, job: Job) -> None:
    first = keep_outputs(deps, job, 0, [data_uri("a")])
    again = keep_outputs(deps, job, 0, [data_uri("a")])
    assert first == again
    assert len(deps.storage.objects) == 1


def test_an_invalid_data_uri_is_unavailable_not_kept(deps: FakeDeps, job: Job) -> None:
    bad = "data:text/plain;base64," + base64.b64encode(b"x").decode()[:-1] + "!"
    with pytest.raises(outputs.ProviderUnavailable):
        keep_outputs(deps, job, 0, [bad])
    assert deps.storage.objects == {}


def test_a_downloaded_output_is_kept_with_its_source_and_type(
    deps: FakeDeps, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the provider serves a PNG
    serving(monkeypatch, a_png=Download(b"\x89PNG"))
    # WHEN it is kept
    (kept,) = keep_outputs(deps, job, 2, ["https://provider.example/a.png"])
    # THEN the store holds its bytes under its extension, and the source is recorded
    assert kept.key == output_key(USER, job.job_id, 2, 0, ".png")
    assert deps.storage.objects[kept.key] == (b"\x89PNG", "image/png")
    assert kept.source_url == "https://provider.example/a.png"


def test_a_url_without_an_extension_takes_it_from_the_content_type(
    deps: FakeDeps, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving(monkeypatch, file=Download(b"{}", headers={"Content-Type": "application/json; charset=utf-8"}))
    (kept,) = keep_outputs(deps, job, 0, ["https://provider.example/file"])
    assert kept.key.endswith("/0.json")
    assert kept.content_type == "application/json"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, OutputGone),
        (410, OutputGone),
        (403, OutputUnavailable),
        (500, OutputUnavailable),
        (503, OutputUnavailable),
    ],
)
def test_a_deleted_output_is_gone_and_any_other_failed_download_is_unavailable(
    deps: FakeDeps, job: Job, monkeypatch: pytest.MonkeyPatch, status: int, error: type[Exception]
) -> None:
    # GIVEN the provider's file server answers the download with `status`
    serving(monkeypatch, a_png=Download(status=status))
    # THEN only a deleted output is given up on (gone); any other failure is tried again (unavailable)
    with pytest.raises(error) as failed:
        keep_outputs(deps, job, 0, ["https://provider.example/a.png"])
    assert failed.value.status_code == status  # type: ignore[attr-defined]
    assert deps.storage.objects == {}


def test_a_connection_cut_is_unavailable(deps: FakeDeps, job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    serving(monkeypatch, a_png=requests.ConnectionError("reset"))
    with pytest.raises(OutputUnavailable):
        keep_outputs(deps, job, 0, ["https://provider.example/a.png"])


def test_a_truncated_download_is_unavailable(
    deps: FakeDeps, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the server announces 10 bytes and sends 4
    serving(monkeypatch, a_png=Download(b"\x89PNG", headers={"Content-Length": "10"}))
    # THEN the output is not taken as kept
    with pytest.raises(OutputUnavailable, match="truncated, 4 of 10 bytes"):
        keep_outputs(deps, job, 0, ["https://provider.example/a.png"])
