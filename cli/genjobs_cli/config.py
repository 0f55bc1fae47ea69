"""Where the API is and who the caller is: flags, then the environment, then the running local stack."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_USER = "alice"
LOCAL_TOKEN_TTL = 3600  # seconds


class ConfigError(Exception):
    """Not enough to reach the API; a usage error (exit 2)."""


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """genjobs_local's state dir (stack.json, signing key): GENJOBS_LOCAL_STATE_DIR or the repo default."""
    env = os.environ if env is None else env
    if "GENJOBS_LOCAL_STATE_DIR" in env:
        return Path(env["GENJOBS_LOCAL_STATE_DIR"])
    try:
        from genjobs_local.paths import DEFAULT_STATE_DIR
    except ImportError:  # installed without the local runtime: only a deployed API
        return Path(".genjobs") / "local"
    return DEFAULT_STATE_DIR


def running_stack(state_dir: Path) -> dict[str, Any] | None:
    """What `genjobs local start` wrote to <state dir>/stack.json, or None when no stack runs."""
    path = state_dir / "stack.json"
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def mint_local_token(state_dir: Path, stack: Mapping[str, Any], user: str, *, admin: bool = False) -> str:
    """A JWT the local stack accepts, signed by its key in the state dir (genjobs_local.tokens)."""
    try:
        from genjobs_local.tokens import AUDIENCE, Jwk
    except ImportError as error:
        raise ConfigError(
            "no token: give --token or GENJOBS_TOKEN (genjobs_local is not installed to mint one)"
        ) from error
    groups = [str(stack.get("admin_group") or "genjobs-admin")] if admin else None
    return Jwk.from_state_dir(state_dir).mint(
        issuer=str(stack["issuer"]),
        audience=str(stack.get("audience") or AUDIENCE),
        user=user,
        groups=groups,
        ttl_seconds=LOCAL_TOKEN_TTL,
    )


@dataclass(frozen=True)
class Config:
    api_url: str
    token: str | None
    live_url: str | None = None


def resolve(
    *,
    api_url: str | None,
    token: str | None,
    user: str | None,
    state_dir: Path | None,
    admin: bool = False,
    env: Mapping[str, str] | None = None,
    live_url: str | None = None,
) -> Config:
    """--api-url/--token/--live-url, else GENJOBS_API_URL/GENJOBS_TOKEN/GENJOBS_LIVE_URL, else the
    running local stack.

    A token is minted for the local stack (as --user, GENJOBS_USER or alice; an operator for `admin`)
    only when no token was given and the API is that stack's.
    """
    env = os.environ if env is None else env
    api_url = api_url or env.get("GENJOBS_API_URL") or None
    token = token or env.get("GENJOBS_TOKEN") or None
    live_url = live_url or env.get("GENJOBS_LIVE_URL") or None
    state_dir = state_dir or default_state_dir(env)
    stack = running_stack(state_dir)
    if api_url is None:
        if stack is None:
            raise ConfigError(
                "no API to talk to: give --api-url or GENJOBS_API_URL, "
                f"or start the local stack with `genjobs local start` (no {state_dir / 'stack.json'})"
            )
        api_url = str(stack["api_url"])
    local = stack is not None and api_url.rstrip("/") == str(stack["api_url"]).rstrip("/")
    if token is None and local:
        assert stack is not None
        user = user or env.get("GENJOBS_USER") or DEFAULT_USER
        token = mint_local_token(state_dir, stack, user, admin=admin)
    if live_url is None and local:
        assert stack is not None
        live_url = stack.get("live_url") or None
    return Config(api_url=api_url, token=token, live_url=live_url)
