"""`genjobs`: create, watch, list, cancel, retry and download AI generation jobs from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from genjobs_cli import commands
from genjobs_cli.client import Api, ApiError, ExitCode
from genjobs_cli.config import ConfigError, resolve
from genjobs_cli.jobspec import SpecError

EPILOG = """\
where the API is:
  --api-url/GENJOBS_API_URL and --token/GENJOBS_TOKEN; without them the running local stack
  (<state dir>/stack.json) is used with a token minted for --user/GENJOBS_USER (default alice).

exit codes:
  0  ok
  1  watch: the job ended FAILED or CANCELLED
  2  usage error (bad flags or files, no API configured)
  3  not found (404)
  4  conflict (409), e.g. cancelling or pausing a job that already finished
  5  insufficient credits (402)
  6  authentication or permission (401, 403)
  7  validation (400, 413, 422)
  8  server or network error (5xx, no answer)
  130 interrupted: Ctrl-C stopped watching (the job keeps running)
"""

Command = Callable[[argparse.Namespace, Api], int]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command (SUPPRESS: absent ones never clobber given ones)."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--api-url", help="the API's base URL (env GENJOBS_API_URL)")
    common.add_argument("--token", help="a bearer JWT (env GENJOBS_TOKEN)")
    common.add_argument("--live-url", help="the live channel's wss:// URL, for watch (env GENJOBS_LIVE_URL)")
    common.add_argument("--user", help="local stack only: mint the token for this user (env GENJOBS_USER)")
    common.add_argument(
        "--state-dir", type=Path, help="local stack's state dir (env GENJOBS_LOCAL_STATE_DIR)"
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="genjobs",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Command, help_text: str, *, admin: bool = False) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        cmd.set_defaults(run=run, admin=admin)
        return cmd

    def job_command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        """A command on one job: its first argument is the job's id."""
        cmd = command(name, run, help_text)
        cmd.add_argument("job_id", metavar="JOB_ID")
        return cmd

    def interval(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds between polls without a live channel (default 1)",
        )

    create = command("create", commands.create, "create a job or a pipeline: prints its plan and id")
    create.add_argument(
        "--file",
        type=Path,
        help="a job body in JSON, or YAML (.yaml/.yml), e.g. a pipeline's steps (flags given too override its fields)",
    )
    create.add_argument("--provider", help="e.g. simulator, replicate, fal")
    create.add_argument("--model", help="e.g. sim-image")
    create.add_argument("--input", metavar="JSON", help="input common to every task, a JSON object")
    create.add_argument(
        "--matrix",
        action="append",
        metavar="NAME=V1,V2",
        help="a matrix dimension (repeatable); NAME=[...] takes a JSON list (numbers, objects)",
    )
    create.add_argument("--count", type=positive_int, help="exactly N tasks from the matrix, round-robin")
    create.add_argument("--tasks-file", type=Path, help="per-task inputs: a JSON list or JSON Lines")
    create.add_argument("--collection", help="collection id, e.g. an album")
    create.add_argument("--concurrency", type=positive_int, help="most tasks in flight")
    create.add_argument("--idempotency-key", help="retries with the same key create the job once")
    create.add_argument("--watch", action="store_true", help="watch the job right away")
    interval(create)

    watch = job_command(
        "watch", commands.watch, "live progress until the job ends (Ctrl-C stops watching only)"
    )
    interval(watch)

    listing = command("list", commands.list_jobs, "your jobs, newest first")
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--active", action="store_true", help="only jobs not finished yet")
    which.add_argument("--status", help="active, finished or job statuses, comma separated")
    listing.add_argument("--collection", help="only this collection")
    listing.add_argument("--limit", type=positive_int, default=20, help="jobs per page (default 20)")
    listing.add_argument("--all", action="store_true", help="follow every page")
    listing.add_argument("--cursor", help="start at this page (from a previous listing)")

    job_command("get", commands.get, "a job: status, counts, credits, first tasks")

    cancel = job_command(
        "cancel", commands.cancel, "cancel a job and show its settlement (kept, charged, refunded)"
    )
    cancel.add_argument("--no-wait", action="store_true", help="return once the cancel is accepted")
    interval(cancel)

    job_command(
        "pause",
        commands.pause,
        "pause a job: nothing new is submitted, tasks at a provider finish and are kept",
    )
    job_command("resume", commands.resume, "continue a paused job")
    retry = job_command(
        "retry", commands.retry, "run an ended job's failed (or cancelled) tasks again, in the same job"
    )
    retry.add_argument(
        "--include",
        choices=["cancelled"],
        help="also the tasks that were cancelled or never started (restart a cancelled job)",
    )
    retry.add_argument("--idempotency-key", help="repeats with the same key retry the job once")

    signal = job_command(
        "signal", commands.signal, "answer a pipeline's signal step that waits (e.g. approve its script)"
    )
    signal.add_argument("name", metavar="NAME", help="the signal step's name")
    decision = signal.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", action="store_true", help="the step completes; what follows runs")
    decision.add_argument(
        "--reject", action="store_true", help="the step fails; what depends on it is skipped"
    )
    signal.add_argument("--data", metavar="JSON", help="the step's result for later steps, a JSON object")
    signal.add_argument("--reason", help="recorded with the decision")

    outputs = job_command(
        "outputs", commands.outputs, "download every task's outputs (skips files already there)"
    )
    outputs.add_argument("--dir", type=Path, required=True, help="where to save them")

    command("credits", commands.credits, "your credit balance")

    job_command("events", commands.events, "a job's timeline, oldest first")

    grant = command("grant", commands.grant, "grant credits to a user (operators' token needed)", admin=True)
    grant.add_argument("user_id", metavar="USER")
    grant.add_argument("amount", metavar="AMOUNT", type=positive_int)
    grant.add_argument("--grant-id", help="applies the grant once whatever the retries (default: a new id)")
    grant.add_argument("--reason", help="recorded with the grant")

    command(
        "plan", commands.plan, "your plan (tasks in flight at once, priority), its use now and your credits"
    )
    command("plans", commands.plans, "the configured plans and the provider limits in force")
    user = command(
        "user", commands.user, "a user's plan, tasks in flight and credits (operators)", admin=True
    )
    user.add_argument("user_id", metavar="USER")
    set_plan = command(
        "set-plan", commands.set_plan, "assign a user's plan (operators' token needed)", admin=True
    )
    set_plan.add_argument("user_id", metavar="USER")
    set_plan.add_argument("plan", metavar="PLAN", help='a configured plan (genjobs plans), or "default"')

    devices = sub.add_parser("devices", help="devices that get a push when a job ends", parents=[common])
    device_commands = devices.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    register = device_commands.add_parser("register", help="register a device", parents=[common])
    register.add_argument("platform", choices=["FCM", "APNS"])
    register.add_argument("device_token", metavar="DEVICE_TOKEN", help="the FCM or APNs token")
    register.set_defaults(run=commands.device_register, admin=False)
    delete = device_commands.add_parser("delete", help="forget a device", parents=[common])
    delete.add_argument("device_id", metavar="DEVICE_ID")
    delete.set_defaults(run=commands.device_delete, admin=False)

    local = sub.add_parser(
        "local", help="the local stack: start, token, invoke (genjobs-local)", parents=[common]
    )
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    for name, help_text in (
        ("start", "run the whole stack until Ctrl-C"),
        ("token", "print a JWT the running stack accepts (--user U, --admin)"),
        ("invoke", "invoke a function: FUNCTION -e events/x.json"),
    ):
        # Everything after the action goes to genjobs-local as is (prefix_chars: no option is ours).
        action = local_commands.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
        action.add_argument("rest", nargs=argparse.REMAINDER)
    local.set_defaults(run=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed by argparse
        return int(exit_.code or 0)
    try:
        if args.command == "local":
            return commands.local(
                argparse.Namespace(**vars(args) | {"state_dir": getattr(args, "state_dir", None)})
            )
        args.json = getattr(args, "json", False)
        config = resolve(
            api_url=getattr(args, "api_url", None),
            token=getattr(args, "token", None),
            user=getattr(args, "user", None),
            state_dir=getattr(args, "state_dir", None),
            admin=args.admin,
            live_url=getattr(args, "live_url", None),
        )
        run: Command = args.run
        return run(args, Api(config.api_url, config.token, live_url=config.live_url))
    except (ConfigError, SpecError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except ApiError as error:
        return commands.failed(error)
    except SystemExit as exit_:  # genjobs-local's own usage errors
        return int(exit_.code or 0) if isinstance(exit_.code, int | None) else ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
