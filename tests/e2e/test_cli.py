"""`genjobs` against the shared session stack, in-process: what a user types and what they read back.

These live in tests/e2e (not tests/cli) to share its one session stack: a second session fixture
would start a second stack in the process, and a stack started after another one still reaches the
first one's (stopped) moto through clients cached at module level, e.g. genjobs.deps."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from genjobs_cli.main import main
from genjobs_local.stack import LocalStack
from tests.e2e.conftest import Client, sim_job

pytestmark = pytest.mark.e2e

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def genjobs(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> Callable[[Client], Run]:
    """`genjobs(app)(*argv)` runs the CLI as that user: (exit code, stdout, stderr)."""

    def as_user(client: Client) -> Run:
        token = str(client.session.headers["Authorization"]).removeprefix("Bearer ")

        def run(*argv: str) -> tuple[int, str, str]:
            capsys.readouterr()
            code = main(["--api-url", stack.api_url, "--token", token, *argv])
            captured = capsys.readouterr()
            return code, _without_stack_logs(captured.out), _without_stack_logs(captured.err)

        return run

    return as_user


def _without_stack_logs(text: str) -> str:
    """The stack's functions run in this process and log one-line JSON to the same stdout and stderr;
    the CLI's JSON is indented, so its lines never start with `{"`."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith('{"'))


def test_create_watch_and_download_the_outputs(
    app: Client, genjobs: Callable[[Client], Run], tmp_path: Path
) -> None:
    cli = genjobs(app)
    # GIVEN a user with 50 credits
    # WHEN they create a 2x2 matrix job of 3 tasks
    code, out, _ = cli(
        "create",
        "--provider=simulator",
        "--model=sim-image",
        "--input",
        '{"prompt": "wedding", "sim": {"latency": 5, "progressSteps": 2}}',
        "--matrix=style=A,B",
        "--matrix=role=GROOM,BRIDE",
        "--count=3",
        "--collection=album-cli",
    )
    # THEN the plan is printed with the job id and how to watch it
    assert code == 0
    assert "plan: 3 tasks x 1 credit = 3 credits reserved" in out
    job_id = out.split()[1]
    assert f"genjobs watch {job_id}" in out

    # WHEN they watch it
    code, out, _ = cli("watch", job_id, "--interval=0.05")
    # THEN plain progress lines end with the completed job and exit 0
    assert code == 0
    lines = out.splitlines()
    assert "[" + "#" * 30 + "] 100.0%  COMPLETED   3/3 done" in lines[-2]
    assert (
        lines[-1]
        == "COMPLETED: kept 3 finished tasks (charged 3 credits), refunded 0 credits (0 failed, 0 cancelled)"
    )

    # WHEN they download the outputs, twice
    code, out, _ = cli("outputs", job_id, "--dir", str(tmp_path))
    assert code == 0
    assert "3 downloaded, 0 already there" in out
    files = sorted(p.name for p in tmp_path.iterdir())
    # THEN every task's output is saved once, named by task, and the second run fetches nothing
    assert files == ["00000-0.png", "00001-0.png", "00002-0.png"]
    assert all((tmp_path / f).stat().st_size > 0 for f in files)
    code, out, _ = cli("outputs", job_id, "--dir", str(tmp_path), "--json")
    report = json.loads(out)
    assert [f["skipped"] for f in report["files"]] == [True, True, True]

    # AND the job is listed in its collection and its timeline readable as JSON
    code, out, _ = cli("list", "--collection=album-cli", "--json")
    assert [j["jobId"] for j in json.loads(out)["items"]] == [job_id]
    code, out, _ = cli("events", job_id, "--json")
    kinds = [e["kind"] for e in json.loads(out)["items"]]
    assert kinds[0] == "job.created"


def test_outputs_replaces_a_partial_file_with_a_different_size(
    app: Client, genjobs: Callable[[Client], Run], tmp_path: Path
) -> None:
    # GIVEN a finished job and a truncated file where its output goes
    job_id = app.create(sim_job(1))["jobId"]
    app.wait(job_id)
    (tmp_path / "00000-0.png").write_bytes(b"x")
    # WHEN outputs runs
    code, out, _ = genjobs(app)("outputs", job_id, "--dir", str(tmp_path))
    # THEN the file is downloaded again at its full size
    assert code == 0
    assert "1 downloaded, 0 already there" in out
    assert (tmp_path / "00000-0.png").stat().st_size == app.job(job_id)["tasks"][0]["outputs"][0]["size"]


def test_create_from_a_job_file_with_watch_exits_1_when_the_job_fails(
    app: Client, genjobs: Callable[[Client], Run], tmp_path: Path
) -> None:
    # GIVEN a job file whose tasks the provider fails
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(sim_job(2, fail="the model refused")))
    # WHEN it is created and watched right away
    code, out, _ = genjobs(app)("create", "--file", str(job_file), "--watch", "--interval=0.05")
    # THEN the watch ends with FAILED, exit 1, and the credits came back
    assert code == 1
    assert out.splitlines()[-1].startswith(
        "FAILED: kept 0 finished tasks (charged 0 credits), refunded 2 credits"
    )


def test_cancel_waits_for_the_settlement_and_shows_it(app: Client, genjobs: Callable[[Client], Run]) -> None:
    # GIVEN a job of 4 tasks that run for a long time, one at a time
    body = sim_job(4, latency=600) | {"concurrency": 1}
    job_id = app.create(body)["jobId"]
    app.wait(job_id, until=lambda j: j["status"] == "PROCESSING")
    # WHEN it is cancelled
    code, out, err = genjobs(app)("cancel", job_id, "--interval=0.05")
    # THEN the command returns once settled and shows what was kept, charged and refunded
    assert code == 0
    assert "cancelling" in err
    assert (
        out.strip()
        == "CANCELLED: kept 0 finished tasks (charged 0 credits), refunded 4 credits (0 failed, 4 cancelled)"
    )
    assert app.job(job_id)["credits"]["refunded"] == 4

    # WHEN the cancelled job is watched
    code, _, _ = genjobs(app)("watch", job_id)
    # THEN it exits 1 at once
    assert code == 1


def test_cancel_no_wait_returns_while_the_job_is_still_cancelling(
    app: Client, genjobs: Callable[[Client], Run]
) -> None:
    job_id = app.create(sim_job(2, latency=600) | {"concurrency": 1})["jobId"]
    app.wait(job_id, until=lambda j: j["status"] == "PROCESSING")
    code, out, _ = genjobs(app)("cancel", job_id, "--no-wait", "--json")
    assert code == 0
    assert json.loads(out)["status"] in {"CANCELLING", "CANCELLED"}
    app.wait(job_id)


def test_retry_restarts_a_cancelled_job_and_shows_the_credits_reserved(
    app: Client, genjobs: Callable[[Client], Run]
) -> None:
    # GIVEN a job of 2 tasks cancelled before either finished
    job_id = app.create(sim_job(2, latency=600) | {"concurrency": 1})["jobId"]
    app.wait(job_id, until=lambda j: j["status"] == "PROCESSING")
    assert genjobs(app)("cancel", job_id, "--interval=0.05")[0] == 0
    # WHEN it is retried without the cancelled tasks: nothing failed, a conflict (exit 4)
    code, _, err = genjobs(app)("retry", job_id)
    assert code == 4
    assert "nothing to retry" in err
    # WHEN it is restarted with them
    code, out, _ = genjobs(app)("retry", job_id, "--include", "cancelled")
    # THEN the command shows the job running again and the 2 credits reserved for it
    assert code == 0
    assert out.startswith(f"job {job_id} PROCESSING (retry 1): 2 credits reserved"), out
    assert app.post(f"/jobs/{job_id}/cancel").status_code == 202
    app.wait(job_id)


def _problem_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("error:", "  - "))]


def test_cancelling_a_finished_job_exits_4_with_the_conflict(
    app: Client, genjobs: Callable[[Client], Run]
) -> None:
    job_id = app.create(sim_job(1))["jobId"]
    app.wait(job_id)
    code, _, err = genjobs(app)("cancel", job_id)
    assert code == 4
    assert _problem_lines(err)[0].startswith("error: 409 Conflict: ")


def test_another_users_job_is_not_found_exit_3(
    app: Client, make_user: Callable[..., Client], genjobs: Callable[[Client], Run]
) -> None:
    # GIVEN alice's job
    job_id = app.create(sim_job(1))["jobId"]
    # WHEN another user asks for it
    code, out, err = genjobs(make_user())("get", job_id)
    # THEN it is not found for them: exit 3 and the problem on stderr, nothing on stdout
    assert code == 3
    assert out == ""
    assert _problem_lines(err)[0].startswith("error: 404 Not found: ")


def test_a_job_beyond_the_credits_exits_5(
    make_user: Callable[..., Client], genjobs: Callable[[Client], Run]
) -> None:
    # GIVEN a user with 2 credits
    poor = make_user(credits=2)
    # WHEN they create a 5-task job
    code, _, err = genjobs(poor)(
        "create", "--provider=simulator", "--model=sim-image", "--matrix=seed=[1,2,3,4,5]"
    )
    # THEN 402 insufficient credits: exit 5, nothing reserved
    assert code == 5
    assert _problem_lines(err)[0].startswith("error: 402 Insufficient credits")
    assert poor.credits()["reserved"] == 0


def test_an_invalid_job_exits_7_naming_each_field(app: Client, genjobs: Callable[[Client], Run]) -> None:
    # WHEN a job names a model the provider does not have
    code, _, err = genjobs(app)("create", "--provider=simulator", "--model=no-such-model", "--input={}")
    # THEN 422: exit 7, the title and each field error printed
    assert code == 7
    lines = _problem_lines(err)
    assert lines[0].startswith("error: 422 Invalid request: ")
    assert any(line.startswith("  - model: ") for line in lines[1:])


def test_granting_without_an_operator_token_exits_6(
    app: Client, operator: Client, genjobs: Callable[[Client], Run]
) -> None:
    code, _, err = genjobs(app)("grant", app.user, "1000", "--grant-id", "nope")
    assert code == 6
    assert "403 Forbidden" in err
    # AND an operator's grant is applied once per grant id
    first = genjobs(operator)("grant", app.user, "5", "--grant-id", f"cli-{app.user}")
    again = genjobs(operator)("grant", app.user, "5", "--grant-id", f"cli-{app.user}", "--json")
    assert first[0] == again[0] == 0
    assert "granted 5 credits" in first[1]
    assert json.loads(again[1])["applied"] is False
    assert app.credits()["granted"] == 55


def test_a_bad_token_exits_6(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--api-url", stack.api_url, "--token", "not-a-jwt", "credits"])
    assert code == 6
    assert "error: 401 Unauthorized" in _without_stack_logs(capsys.readouterr().err)


def test_list_all_follows_every_page(
    make_user: Callable[..., Client], genjobs: Callable[[Client], Run]
) -> None:
    # GIVEN a user with 3 jobs
    user = make_user()
    created = [user.create(sim_job(1))["jobId"] for _ in range(3)]
    cli = genjobs(user)
    # WHEN listed a page of one at a time
    _, first, _ = cli("list", "--limit=1", "--json")
    _, every, _ = cli("list", "--limit=1", "--all", "--json")
    # THEN one page has one job and a cursor; --all has every job, newest first
    assert len(json.loads(first)["items"]) == 1
    assert json.loads(first)["cursor"]
    assert [j["jobId"] for j in json.loads(every)["items"]] == created[::-1]
    for job_id in created:
        user.wait(job_id)


def test_credits_and_devices(app: Client, genjobs: Callable[[Client], Run]) -> None:
    cli = genjobs(app)
    code, out, _ = cli("credits", "--json")
    assert (code, json.loads(out)["available"]) == (0, 50)
    code, out, _ = cli("devices", "register", "FCM", "fcm-token-for-cli-test", "--json")
    device: dict[str, Any] = json.loads(out)
    assert (code, device["platform"]) == (0, "FCM")
    code, out, _ = cli("devices", "delete", device["deviceId"])
    assert (code, out.strip()) == (0, f"deleted device {device['deviceId']}")


# ---- pipelines --------------------------------------------------------------------------------------
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


def _video_without_approval(tmp_path: Path) -> Path:
    """The shipped video pipeline (seed 004), its script not waiting for the app's approval."""
    body = yaml.safe_load((EXAMPLES / "video.yaml").read_text())
    body["steps"] = [step for step in body["steps"] if step["name"] != "approve"]
    for step in body["steps"]:
        step.pop("after", None)
    path = tmp_path / "video.yml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def test_a_yaml_pipeline_is_created_and_watched_a_line_per_step(
    make_user: Callable[..., Client], genjobs: Callable[[Client], Run], tmp_path: Path
) -> None:
    # GIVEN a user with 100 credits and the video pipeline of a 5-paragraph document in YAML
    user = make_user(credits=100)
    cli = genjobs(user)
    # WHEN it is created from the file
    code, out, _ = cli("create", "--file", str(_video_without_approval(tmp_path)))
    # THEN the plan reserves every step's most: 1 script + 10 x (1 speech + 5 avatar + 3 background)
    assert code == 0, out
    assert "plan: 5 steps, at most 32 tasks = 91 credits reserved" in out
    job_id = out.split()[1]

    # WHEN it is watched to the end
    code, out, _ = cli("watch", job_id, "--interval=0.05")
    # THEN it completes, and each view shows the job line then one line per step, in order
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == (
        "COMPLETED: kept 17 finished tasks (charged 46 credits), refunded 45 credits "
        "(0 failed, 0 cancelled, 0 skipped)"
    )
    final = lines[-7:-1]
    assert final[0].startswith("[" + "#" * 30 + "] 100.0%  COMPLETED   17/17 done")
    assert [line.split()[:3] for line in final[1:]] == [
        ["script", "sync", "1/1"],
        ["speech", "sync", "5/10"],
        ["avatar", "async", "5/10"],
        ["background", "async", "5/10"],
        ["render", "lambda", "1/1"],
    ]
    assert final[3].endswith("done 5  running 0  waiting 0  credits 25 charged, 25 refunded")
    # AND while the script ran, the fan-outs' sizes were not known yet
    assert any(line.split()[:3] == ["avatar", "async", "?/10"] for line in lines)
    # AND `get` lists the steps and each task's step and item
    code, out, _ = cli("get", job_id)
    assert "model       pipeline of 5 steps" in out
    assert any(line.split()[:4] == ["31", "render", "0", "COMPLETED"] for line in out.splitlines())


def test_signalling_a_step_that_is_not_a_waiting_signal_is_refused(
    make_user: Callable[..., Client], genjobs: Callable[[Client], Run]
) -> None:
    # GIVEN a pipeline that already ended
    user = make_user(credits=100)
    body = {
        "steps": [
            {"name": "one", "provider": "simulator", "model": "sim-image", "input": {"sim": {"latency": 1}}}
        ]
    }
    job_id = user.create(body)["jobId"]
    user.wait(job_id)
    cli = genjobs(user)
    # WHEN a step that is no signal step is signalled: 404, exit 3
    code, _, err = cli("signal", job_id, "one", "--approve")
    assert code == 3
    assert "has no signal step named 'one'" in _problem_lines(err)[0]
    # AND neither or both of --approve and --reject is a usage error
    assert cli("signal", job_id, "one")[0] == 2
    assert cli("signal", job_id, "one", "--approve", "--reject")[0] == 2
    # AND --data must be a JSON object
    assert cli("signal", job_id, "one", "--approve", "--data", "[1]")[0] == 2


def test_the_script_is_approved_with_signal_and_the_video_is_made(
    make_user: Callable[..., Client], genjobs: Callable[[Client], Run]
) -> None:
    # GIVEN the shipped video pipeline, its script waiting for approval
    user = make_user(credits=100)
    cli = genjobs(user)
    code, out, _ = cli("create", "--file", str(EXAMPLES / "video.yaml"))
    job_id = out.split()[1]

    def approve_waits(job: dict[str, Any]) -> bool:
        return any(s["name"] == "approve" and s["counts"]["PROCESSING"] == 1 for s in job["steps"])

    user.wait(job_id, until=approve_waits)
    try:
        # WHEN the app approves it
        code, out, err = cli("signal", job_id, "approve", "--approve", "--data", '{"by": "editor"}')
        # THEN the signal is accepted and the pipeline goes on to the render
        assert code == 0, err
        assert out.startswith(f"approve sent to step approve of job {job_id}")
        assert cli("watch", job_id, "--interval=0.05")[0] == 0
    finally:
        user.post(f"/jobs/{job_id}/cancel")  # a failed approval leaves no job waiting for an hour


def test_the_stages_example_is_cancelled_with_its_settlement_per_step(
    make_user: Callable[..., Client], genjobs: Callable[[Client], Run]
) -> None:
    # GIVEN the three parallel stages of 50 images (seed 002) created from the shipped JSON file
    user = make_user(credits=150)
    cli = genjobs(user)
    code, out, _ = cli("create", "--file", str(EXAMPLES / "stages.json"), "--json")
    job = json.loads(out)
    assert code == 0
    assert [(s["name"], s["maxSize"], s["credits"]["reserved"]) for s in job["steps"]] == [
        ("stage1", 50, 50),
        ("stage2", 50, 50),
        ("stage3", 50, 50),
    ]
    user.wait(job["jobId"], until=lambda j: j["counts"]["COMPLETED"] >= 3)
    # WHEN it is cancelled part-way
    code, out, _ = cli("cancel", job["jobId"], "--interval=0.05")
    # THEN it ends CANCELLED: every finished image kept and charged, the rest refunded
    assert code == 0
    ended = user.job(job["jobId"])
    kept = ended["counts"]["COMPLETED"]
    assert 3 <= kept < 150
    assert out.strip().startswith(f"CANCELLED: kept {kept} finished tasks (charged {kept} credits)")
    assert [s["credits"]["charged"] for s in ended["steps"]] == [
        s["counts"]["COMPLETED"] for s in ended["steps"]
    ]
    assert ended["credits"]["charged"] + ended["credits"]["refunded"] == 150


def test_an_operator_sets_a_plan_and_the_user_reads_it_with_genjobs_plan(
    app: Client, operator: Client, genjobs: Callable[[Client], Run]
) -> None:
    # WHEN an operator puts the user on "standard" with the CLI
    code, out, _ = genjobs(operator)("set-plan", app.user, "standard")
    # THEN the user's account is printed on its new plan
    assert code == 0
    assert "plan       standard (assigned), priority 10" in out.splitlines()

    # AND the user reads it with `genjobs plan`, their credits beside it
    code, out, _ = genjobs(app)("plan")
    assert code == 0
    assert out.splitlines()[1:] == [
        "plan       standard (assigned), priority 10",
        "in flight  0 of 100 tasks at providers",
        "credits    available 50  reserved 0  charged 0  granted 50",
    ]

    # AND an unknown plan is refused naming the field, exit 7; the plan stays
    code, _, err = genjobs(operator)("set-plan", app.user, "gold")
    assert code == 7
    assert "  - plan: 'gold' is not a configured plan" in err
    assert genjobs(operator)("set-plan", app.user, "default")[0] == 0
    assert app.get("/me").json()["plan"]["name"] == "free"
