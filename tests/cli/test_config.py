"""Where the CLI finds the API and its token: flags, environment, then the running local stack."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest

from genjobs_cli.config import ConfigError, resolve
from genjobs_cli.main import main

pytestmark = pytest.mark.unit

LOCAL_API = "http://127.0.0.1:8000/local"


@pytest.fixture
def local_stack_file(tmp_path: Path) -> Path:
    """A state dir as `genjobs local start` leaves it while the stack runs."""
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "api_url": LOCAL_API,
                "issuer": "http://127.0.0.1:8000",
                "audience": "genjobs-local",
                "admin_group": "genjobs-admin",
            }
        )
    )
    return tmp_path


def _claims(token: str | None) -> dict[str, object]:
    assert token is not None
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_flags_win_over_the_environment(local_stack_file: Path) -> None:
    env = {"GENJOBS_API_URL": "http://env", "GENJOBS_TOKEN": "env-token"}
    config = resolve(
        api_url="http://flag", token="flag-token", user=None, state_dir=local_stack_file, env=env
    )
    assert (config.api_url, config.token) == ("http://flag", "flag-token")


def test_the_environment_wins_over_the_local_stack(local_stack_file: Path) -> None:
    env = {"GENJOBS_API_URL": "http://env", "GENJOBS_TOKEN": "env-token"}
    config = resolve(api_url=None, token=None, user=None, state_dir=local_stack_file, env=env)
    assert (config.api_url, config.token) == ("http://env", "env-token")


def test_without_flags_the_running_stack_is_used_with_a_token_for_alice(local_stack_file: Path) -> None:
    # GIVEN a running local stack and nothing configured
    # WHEN the configuration is resolved
    config = resolve(api_url=None, token=None, user=None, state_dir=local_stack_file, env={})
    # THEN the stack's API is used with a token it accepts, for alice by default
    assert config.api_url == LOCAL_API
    claims = _claims(config.token)
    assert (claims["sub"], claims["iss"], claims["aud"]) == (
        "alice",
        "http://127.0.0.1:8000",
        "genjobs-local",
    )
    assert "cognito:groups" not in claims


def test_the_local_token_is_minted_for_the_user_given_and_as_operator_when_asked(
    local_stack_file: Path,
) -> None:
    by_env = resolve(
        api_url=None, token=None, user=None, state_dir=local_stack_file, env={"GENJOBS_USER": "eve"}
    )
    by_flag = resolve(
        api_url=None,
        token=None,
        user="bob",
        state_dir=local_stack_file,
        admin=True,
        env={"GENJOBS_USER": "eve"},
    )
    assert _claims(by_env.token)["sub"] == "eve"
    assert (_claims(by_flag.token)["sub"], _claims(by_flag.token)["cognito:groups"]) == (
        "bob",
        ["genjobs-admin"],
    )


def test_no_local_token_is_minted_for_another_api(local_stack_file: Path) -> None:
    # GIVEN a deployed API's URL and no token
    config = resolve(
        api_url="https://api.example.com", token=None, user=None, state_dir=local_stack_file, env={}
    )
    # THEN no local token leaks to it
    assert config.token is None


def test_nothing_configured_and_no_stack_is_a_usage_error_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--api-url or GENJOBS_API_URL.*genjobs local start"):
        resolve(api_url=None, token=None, user=None, state_dir=tmp_path, env={})


def test_main_exits_2_when_no_api_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GENJOBS_API_URL", raising=False)
    monkeypatch.delenv("GENJOBS_TOKEN", raising=False)
    assert main(["--state-dir", str(tmp_path), "credits"]) == 2
    assert "no API to talk to" in capsys.readouterr().err
