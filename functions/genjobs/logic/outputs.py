"""Output custody: every finished output is copied into our bucket before its task is COMPLETED
(providers delete theirs, Replicate after one hour)."""

from __future__ import annotations

import io
import mimetypes
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from genjobs.logic.ports import Collaborators
from genjobs.models.domain import Job, Output
from genjobs.providers.base import ProviderRejected, ProviderUnavailable

if TYPE_CHECKING:
    import requests


# A download answered with one of these will never succeed: the provider has deleted the file.
_GONE_STATUSES = frozenset({404, 410})


class OutputUnavailable(ProviderUnavailable):
    """An output the provider reported could not be copied this time (transient: tried again)."""


class OutputGone(ProviderRejected):
    """An output the provider reported no longer exists there (expired or deleted): trying again
    can never keep it."""


def output_key(user_id: str, job_id: str, task_index: int, n: int, extension: str) -> str:
    """Where a task's n-th output is kept (never expires; see the bucket's lifecycle rules)."""
    return f"outputs/{user_id}/{job_id}/{task_index:06d}/{n}{extension}"


@cache
def _session() -> requests.Session:
    # requests is imported with the first download, not with every handler that imports the tasks.
    import requests

    return requests.Session()


def _extension(url: str, content_type: str) -> str:
    suffix = urlparse(url).path.rsplit("/", 1)[-1]
    if "." in suffix:
        return "." + suffix.rsplit(".", 1)[-1][:8]
    return mimetypes.guess_extension(content_type) or ""


def _keep_inline(deps: Collaborators, job: Job, task_index: int, n: int, uri: str) -> Output:
    """Stores an inline output (a data: URI: text, or a file the provider returned in the answer)."""
    from urllib.error import URLError
    from urllib.request import urlopen

    try:
        # The standard library's data: handler parses RFC 2397 (media type, charset, base64).
        with urlopen(uri) as response:
            content_type = response.headers.get_content_type()
            full_type = response.headers.get("Content-Type", content_type)
            body = response.read()
    except (URLError, ValueError) as error:
        raise ProviderUnavailable(f"output {n} is not a valid data: URI: {error}") from error
    key = output_key(job.user_id, job.job_id, task_index, n, mimetypes.guess_extension(content_type) or "")
    size = deps.storage.put_stream(key, io.BytesIO(body), full_type)
    # The source is not recorded: it is the content itself, and it could fill the task item.
    return Output(key=key, contentType=content_type, size=size)


def keep_outputs(deps: Collaborators, job: Job, task_index: int, urls: list[str]) -> list[Output]:
    """Stores each output, in order: downloads http(s) URLs, decodes data: URIs; idempotent (same
    keys on a retry).

    A failed or truncated download raises OutputUnavailable, so the caller retries later (within its
    bound) instead of completing a task without its output; an output the provider no longer has
    raises OutputGone.
    """
    import requests
    import urllib3

    kept: list[Output] = []
    for n, url in enumerate(urls):
        if url.startswith("data:"):
            kept.append(_keep_inline(deps, job, task_index, n, url))
            continue
        try:
            with _session().get(url, stream=True, timeout=(5, 120)) as response:
                response.raise_for_status()
                content_type = response.headers.get("Content-Type", "application/octet-stream").split(";")[0]
                expected = response.headers.get("Content-Length")
                key = output_key(job.user_id, job.job_id, task_index, n, _extension(url, content_type))
                response.raw.decode_content = True
                size = deps.storage.put_stream(key, response.raw, content_type)  # type: ignore[arg-type]
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else None
            if status in _GONE_STATUSES:
                raise OutputGone(
                    f"output {n} is gone at the provider (HTTP {status}: expired or deleted)",
                    status_code=status,
                ) from error
            raise OutputUnavailable(f"download of output {n} failed: {error}", status_code=status) from error
        except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
            # The body is streamed from response.raw, so a connection cut mid-download surfaces as
            # urllib3's ProtocolError/ReadTimeoutError, not as a requests exception.
            raise OutputUnavailable(f"download of output {n} failed: {error}") from error
        if expected is not None and int(expected) != size:
            raise OutputUnavailable(f"download of output {n} failed: truncated, {size} of {expected} bytes")
        kept.append(Output(key=key, contentType=content_type, size=size, sourceUrl=url))
    return kept
