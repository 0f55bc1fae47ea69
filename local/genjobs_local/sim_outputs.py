"""What the simulator's predictions deliver: deterministic file contents per output format, and the
per-model defaults of the simulator models in the catalog.

Every content is derived from the prediction's model, input and output index only, so a test can
compute what a task must have received (the script's scenes from the document's paragraphs, the
audio an avatar was made from).
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import re
import struct
import zlib
from typing import Any
from urllib.parse import quote

# Formats whose type Python's table lacks or spells differently (audio/x-wav).
CONTENT_TYPES = {
    "png": "image/png",
    "txt": "text/plain;charset=utf-8",
    "json": "application/json;charset=utf-8",
    "wav": "audio/wav",
    "mp4": "video/mp4",
}
# Text is a model's answer itself, never a file to download: always inline in the prediction.
TEXT_FORMATS = frozenset({"txt", "json"})

# "sim" option defaults per model (the catalog's simulator models); the request's options win.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "sim-llm": {"outputFormat": "json", "latency": 2},
    "sim-tts": {"outputFormat": "wav", "latency": 1, "inline": True},
    "sim-image-sync": {"outputFormat": "png", "latency": 2, "inline": True},
    "sim-avatar": {"outputFormat": "mp4", "latency": 6},
    "sim-background": {"outputFormat": "mp4", "latency": 9},
}

DEFAULT_MAX_SCENES = 10
WAV_SAMPLE_RATE = 8000  # 8-bit mono: one byte a sample
WAV_SECONDS_PER_CHARACTER = 0.02
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def content_type(fmt: str) -> str:
    return CONTENT_TYPES.get(fmt) or mimetypes.types_map.get(f".{fmt}", "application/octet-stream")


def content(model: str, model_input: dict[str, Any], seed: bytes, fmt: str) -> bytes:
    """The bytes of one output in `fmt`; a format without a generator gets a PNG (as it always did)."""
    if fmt == "json":
        return json.dumps(llm_document(model, model_input), ensure_ascii=False).encode()
    if fmt == "txt":
        return completion(model, model_input).encode()
    if fmt == "wav":
        return wav(_text(model_input, "text"))
    if fmt == "mp4":
        return mp4(model, model_input, seed)
    return png(seed)


def data_uri(data: bytes, fmt: str) -> str:
    """An inline output (RFC 2397): text percent-encoded so it stays readable, files in base64."""
    if fmt in TEXT_FORMATS:
        return f"data:{content_type(fmt)},{quote(data.decode(), safe='')}"
    return f"data:{content_type(fmt)};base64,{base64.b64encode(data).decode()}"


# ---- text --------------------------------------------------------------------------------------


def llm_document(model: str, model_input: dict[str, Any]) -> dict[str, Any]:
    """A language model's JSON answer: a video script when `format` is "script", else a completion."""
    if model_input.get("format") == "script":
        return script(_text(model_input, "prompt", "document"), _max_scenes(model_input))
    return {"text": completion(model, model_input)}


def completion(model: str, model_input: dict[str, Any]) -> str:
    prompt = " ".join(_text(model_input, "prompt", "document", "text").split())
    return f"{model} answers: {prompt[:200]}" if prompt else f"{model} answers."


def script(document: str, max_scenes: int = DEFAULT_MAX_SCENES) -> dict[str, Any]:
    """One scene per paragraph (blank-line separated), at most `max_scenes`: the narration is the
    paragraph's text (whitespace collapsed), the visual names its first sentence."""
    paragraphs = [" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(document)]
    paragraphs = [text for text in paragraphs if text][:max_scenes]
    scenes = [
        {"scene": number, "narration": text, "visual": f"Scene {number}: {first_sentence(text)}"}
        for number, text in enumerate(paragraphs, start=1)
    ]
    title = first_sentence(paragraphs[0]) if paragraphs else "Untitled"
    return {"title": title, "scenes": scenes}


def first_sentence(text: str, words: int = 12) -> str:
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    return " ".join(sentence.split()[:words])


def _text(model_input: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = model_input.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _max_scenes(model_input: dict[str, Any]) -> int:
    value = model_input.get("maxScenes")
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_SCENES
    )


# ---- files -------------------------------------------------------------------------------------


def wav(text: str) -> bytes:
    """A real WAV file of silence lasting as long as reading `text` would (at least 0.1 s)."""
    samples = max(WAV_SAMPLE_RATE // 10, round(len(text) * WAV_SECONDS_PER_CHARACTER * WAV_SAMPLE_RATE))
    fmt = struct.pack("<HHIIHH", 1, 1, WAV_SAMPLE_RATE, WAV_SAMPLE_RATE, 1, 8)  # PCM, mono, 8-bit
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", samples)
    return b"RIFF" + struct.pack("<I", len(body) + samples) + body + b"\x80" * samples  # 0x80: silence


def mp4(model: str, model_input: dict[str, Any], seed: bytes) -> bytes:
    """An ISO media file's opening boxes: `ftyp`, then a `free` box holding the model and its input
    (what a test reads to know which audio made which avatar), then some `mdat` bytes."""
    source = {"model": model, "input": {k: v for k, v in model_input.items() if k != "sim"}}
    return (
        _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41")
        + _box(b"free", json.dumps(source, sort_keys=True).encode())
        + _box(b"mdat", deterministic_bytes(seed, 256))
    )


def made_from(video: bytes) -> dict[str, Any]:
    """The model and input an `mp4` output was made from (the inverse of the `free` box above)."""
    offset = 0
    while offset + 8 <= len(video):
        size, kind = struct.unpack(">I4s", video[offset : offset + 8])
        if kind == b"free":
            found: dict[str, Any] = json.loads(video[offset + 8 : offset + size])
            return found
        offset += max(size, 8)
    raise ValueError("not a simulator video: no free box")


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def png(seed: bytes, size: int = 8) -> bytes:
    """A small real PNG whose colour depends on `seed`, so different outputs differ."""
    r, g, b = hashlib.sha256(seed).digest()[:3]
    row = b"\x00" + bytes([r, g, b]) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def deterministic_bytes(seed: bytes, size: int) -> bytes:
    """`size` deterministic bytes derived from `seed`."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])
