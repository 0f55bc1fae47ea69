"""Small parsers shared by adapters: progress from logs, dotted JSON paths, output URLs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeGuard

# A tqdm progress bar as models print it: " 45%|████▌     | 9/20 [00:02<00:03, 4.1it/s]". Replicate's
# official client reads progress from the last line that matches this (Prediction.Progress.parse).
_PROGRESS_BAR = re.compile(r"^\s*(\d{1,3})%\s*\|.+?\|\s*(\d+)/(\d+)")
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


def progress_from_logs(logs: str | Iterable[Any] | None) -> float | None:
    """The percentage (0-100) of the last progress-bar line in the logs, or None when there is none.

    Only a progress bar counts: a percentage printed anywhere else in the logs ("accuracy 97%")
    says nothing about how far the task is. tqdm redraws its bar with carriage returns, so a line
    is what follows the last newline or carriage return.
    """
    if isinstance(logs, str):
        text = logs
    elif isinstance(logs, list | tuple):
        # Providers' bodies are not trusted to be well-typed: only text entries are log lines.
        text = "\n".join(entry for entry in logs if isinstance(entry, str))
    else:
        return None
    for line in reversed(re.split(r"[\r\n]", text)):
        match = _PROGRESS_BAR.match(line)
        if match and 0 <= int(match.group(1)) <= 100:
            return float(match.group(1))
    return None


def clamp_progress(value: Any) -> float | None:
    """A number coerced to 0-100, or None when the provider gave nothing numeric."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    number = float(value)
    if number != number:  # NaN
        return None
    return max(0.0, min(100.0, number))


def get_path(document: Any, path: str) -> list[Any]:
    """Values at a dotted path such as "result.images[*].url" or "data.outputs[0]".

    Returns every match (a wildcard can match many); a missing key yields no match, never an error.
    """
    current: list[Any] = [document]
    for name, index in _PATH_TOKEN.findall(path):
        following: list[Any] = []
        for value in current:
            if name:
                if isinstance(value, dict) and name in value:
                    following.append(value[name])
            elif isinstance(value, list):
                if index == "*":
                    following.extend(value)
                elif int(index) < len(value):
                    following.append(value[int(index)])
        current = following
    return current


def first_at(document: Any, path: str | None) -> Any:
    if not path:
        return None
    values = get_path(document, path)
    return values[0] if values else None


def is_url(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def is_data_uri(value: Any) -> TypeGuard[str]:
    """An inline file (RFC 2397), which output custody stores like a downloaded one."""
    return isinstance(value, str) and value.startswith("data:")


def file_urls_in(value: Any) -> list[str]:
    """URLs of file objects ({"url": ..., "content_type": ...}) anywhere in a result payload.

    fal returns every output file this way (images[].url, image.url, video.url, audio_file.url,
    model_mesh.url, ...). Only `url` keys are read so input echoes such as `image_url` are skipped.
    A file returned inline (fal's `sync_mode`) has a data: URI as its url, and is an output too.
    """
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            url = item.get("url")
            if (is_url(url) or is_data_uri(url)) and url not in found:
                found.append(url)
            for key, child in item.items():
                if key != "url":
                    walk(child)
        elif isinstance(item, list):
            for child in item:
                walk(child)

    walk(value)
    return found
