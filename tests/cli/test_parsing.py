"""`genjobs` argument parsing: commands, options before or after them, usage errors exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from genjobs_cli import commands
from genjobs_cli.main import build_parser, main

pytestmark = pytest.mark.unit


def test_global_options_are_accepted_before_or_after_the_command() -> None:
    # GIVEN the parser
    parser = build_parser()
    # WHEN the API options come before the command, and after it
    before = parser.parse_args(["--api-url", "http://a", "--token", "t", "--json", "get", "j1"])
    after = parser.parse_args(["get", "j1", "--api-url", "http://a", "--token", "t", "--json"])
    # THEN both read the same
    for args in (before, after):
        assert (args.api_url, args.token, args.json, args.job_id) == ("http://a", "t", True, "j1")
        assert args.run is commands.get


def test_an_option_given_before_the_command_is_not_cleared_by_the_subcommand() -> None:
    # GIVEN --user before the command only
    # WHEN parsed
    args = build_parser().parse_args(["--user", "bob", "credits"])
    # THEN the subcommand's parser left it as given
    assert args.user == "bob"


def test_create_collects_every_matrix_flag_and_the_job_options() -> None:
    # GIVEN a create command with two matrix dimensions and every job option
    argv = [
        "create",
        "--provider=simulator",
        "--model=sim-image",
        "--input",
        '{"prompt": "p"}',
        "--matrix",
        "style=A,B",
        "--matrix",
        "role=GROOM,BRIDE",
        "--count=3",
        "--collection=album-1",
        "--concurrency=2",
        "--idempotency-key=k1",
        "--watch",
    ]
    # WHEN parsed
    args = build_parser().parse_args(argv)
    # THEN the matrix flags are kept in order and the options read as given
    assert args.matrix == ["style=A,B", "role=GROOM,BRIDE"]
    assert (args.count, args.collection, args.concurrency, args.idempotency_key) == (3, "album-1", 2, "k1")
    assert args.watch is True
    assert args.run is commands.create


def test_create_reads_the_job_file_and_tasks_file_as_paths() -> None:
    args = build_parser().parse_args(["create", "--file", "job.json", "--tasks-file", "tasks.jsonl"])
    assert (args.file, args.tasks_file) == (Path("job.json"), Path("tasks.jsonl"))


def test_grant_is_the_one_command_that_mints_an_operator_token() -> None:
    parser = build_parser()
    assert parser.parse_args(["grant", "alice", "50", "--grant-id", "g1"]).admin is True
    assert parser.parse_args(["credits"]).admin is False


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["get"],
        ["create", "--count", "0"],
        ["create", "--concurrency", "many"],
        ["list", "--active", "--status", "FAILED"],
        ["grant", "alice", "-5"],
        ["outputs", "j1"],  # --dir is required
        ["devices", "register", "SMS", "token-123456"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a command line argparse rejects
    # WHEN it runs
    code = main(argv)
    # THEN it exits 2 with argparse's usage on stderr
    assert code == 2
    assert "usage: genjobs" in capsys.readouterr().err


def test_help_exits_0_and_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN --help is asked for
    code = main(["--help"])
    # THEN the epilog lists the exit codes scripts rely on
    assert code == 0
    help_text = capsys.readouterr().out
    for line in (
        "0  ok",
        "1  watch: the job ended FAILED or CANCELLED",
        "2  usage error",
        "3  not found (404)",
        "4  conflict (409)",
        "5  insufficient credits (402)",
        "6  authentication or permission (401, 403)",
        "7  validation (400, 413, 422)",
        "8  server or network error",
    ):
        assert line in help_text


def test_local_actions_hand_every_following_argument_to_genjobs_local() -> None:
    # GIVEN `genjobs local token` and `local invoke` with genjobs-local's own options
    parser = build_parser()
    # WHEN parsed
    token = parser.parse_args(["local", "token", "--user", "bob", "--admin"])
    invoke = parser.parse_args(["local", "invoke", "ApiFunction", "-e", "events/x.json"])
    # THEN they are passed on untouched, not read as genjobs options
    assert (token.local_command, token.rest) == ("token", ["--user", "bob", "--admin"])
    assert (invoke.local_command, invoke.rest) == ("invoke", ["ApiFunction", "-e", "events/x.json"])


def test_local_token_is_minted_by_genjobs_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jwt

    # GIVEN a state dir with no running stack
    monkeypatch.delenv("GENJOBS_LOCAL_STATE_DIR", raising=False)
    # WHEN `genjobs local token` runs for bob as an operator
    code = main(["--state-dir", str(tmp_path), "local", "token", "--user", "bob", "--admin"])
    # THEN genjobs-local printed a token for bob in the admin group, signed by the state dir's key
    assert code == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["cognito:groups"]) == ("bob", ["genjobs-admin"])
    assert (tmp_path / "jwt-signing-key.pem").exists()


def test_local_invoke_without_a_running_stack_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--state-dir", str(tmp_path), "local", "invoke", "ApiFunction", "-e", "events/x.json"])
    assert code == 2
    assert "genjobs-local start" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "body"),
    [
        (["--approve"], {"decision": "approve"}),
        (
            ["--reject", "--reason", "off brand", "--data", '{"notes": "redo scene 2"}'],
            {"decision": "reject", "data": {"notes": "redo scene 2"}, "reason": "off brand"},
        ),
    ],
)
def test_signal_posts_the_decision_to_the_named_step(
    monkeypatch: pytest.MonkeyPatch, flags: list[str], body: dict[str, object]
) -> None:
    # GIVEN an API that records what it is sent
    sent: list[tuple[str, str, object]] = []

    def request(self: object, method: str, path: str, *, json: object = None, **_: object) -> object:
        sent.append((method, path, json))
        return {"jobId": "j1", "step": "approve", "decision": body["decision"]}

    monkeypatch.setattr("genjobs_cli.client.Api.request", request)
    # WHEN a step is signalled
    code = main(["--api-url", "http://a", "--token", "t", "signal", "j1", "approve", *flags])
    # THEN the decision (with its data and reason when given) goes to that step's signal route
    assert code == 0
    assert sent == [("POST", "/jobs/j1/signals/approve", body)]
