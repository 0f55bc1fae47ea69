"""`genjobs-local`: start the local stack, mint tokens for it, invoke its functions."""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

# Only light imports here: `genjobs-local token` must answer at once; moto and boto3 load on demand.
from genjobs_local.paths import STACK_FILE, state_dir_from_env
from genjobs_local.tokens import AUDIENCE, Jwk

DEFAULT_PORT = 8000


def _stack_file(state_dir: Path) -> Path:
    return state_dir / STACK_FILE


def _running_stack(state_dir: Path) -> dict[str, Any] | None:
    path = _stack_file(state_dir)
    return json.loads(path.read_text()) if path.exists() else None


def start(args: argparse.Namespace) -> int:
    from genjobs_local.stack import LocalStack

    stack = LocalStack.start(port=args.port, time_scale=args.time_scale, state_dir=args.state_dir)
    return serve(stack, args.state_dir)


def serve(stack: Any, state_dir: Path, *, user: str = "alice") -> int:
    """Keeps a started stack running until Ctrl-C, findable by other processes through stack.json."""
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    path = _stack_file(state_dir)
    token = stack.mint_token(user, ttl_seconds=12 * 3600)
    path.write_text(json.dumps(stack.describe() | {"token": token}, indent=2) + "\n")
    print(f"API        {stack.api_url}")
    print(f"console    {stack.console_url}  (sign in with any user name)")
    print(f"live       {stack.live_url}  (WebSocket: ?token=<JWT>[&jobId=<id>])")
    print(f"moto       {stack.moto_url}")
    print(f"simulator  {stack.simulator_url or '(not available)'}")
    print(f"issuer     {stack.issuer}  (JWKS at {stack.issuer}/.well-known/jwks.json)")
    print(f"stack file {path}")
    print(f"token      {token}")
    print(f'try: curl -H "Authorization: Bearer $TOKEN" {stack.api_url}/credits   (Ctrl-C stops)')
    sys.stdout.flush()
    try:
        stopped.wait()
    finally:
        path.unlink(missing_ok=True)
        stack.stop()
    return 0


def token(args: argparse.Namespace) -> int:
    running = _running_stack(args.state_dir)
    issuer = running["issuer"] if running else f"http://127.0.0.1:{DEFAULT_PORT}"
    admin_group = running["admin_group"] if running else "genjobs-admin"
    jwk = Jwk.from_state_dir(args.state_dir)
    groups = [admin_group] if args.admin else None
    print(jwk.mint(issuer=issuer, audience=AUDIENCE, user=args.user, groups=groups, ttl_seconds=args.ttl))
    return 0


def invoke(args: argparse.Namespace) -> int:
    import boto3

    running = _running_stack(args.state_dir)
    if running is None:
        print(
            f"no running stack ({_stack_file(args.state_dir)} missing): run `genjobs-local start`",
            file=sys.stderr,
        )
        return 2
    function = running["resources"].get(args.function, args.function)  # logical id or name
    payload = Path(args.event).read_bytes() if args.event else b"{}"
    client = boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=running["moto_url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    response = client.invoke(FunctionName=function, Payload=payload, LogType="Tail")
    result = response["Payload"].read().decode()
    try:
        print(json.dumps(json.loads(result), indent=2))
    except json.JSONDecodeError:
        print(result)
    if response.get("LogResult"):
        print(base64.b64decode(response["LogResult"]).decode(), file=sys.stderr)
    return 1 if response.get("FunctionError") else 0


def demo(args: argparse.Namespace) -> int:
    from genjobs_local.demo import run

    keep = sys.stdout.isatty() if args.keep is None else args.keep
    return run(time_scale=args.time_scale, outputs_dir=args.outputs, keep=keep, state_dir=args.state_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genjobs-local", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=state_dir_from_env(), help="key and stack.json")
    commands = parser.add_subparsers(dest="command", required=True)

    start_cmd = commands.add_parser("start", help="run the whole stack until Ctrl-C")
    start_cmd.add_argument("--port", type=int, default=DEFAULT_PORT, help="port of the HTTP API")
    start_cmd.add_argument(
        "--time-scale", type=float, default=None, help="wall s per schedule s (env TIME_SCALE)"
    )
    start_cmd.set_defaults(run=start)

    token_cmd = commands.add_parser("token", help="print a JWT accepted by the running stack")
    token_cmd.add_argument("--user", default="alice")
    token_cmd.add_argument("--admin", action="store_true", help="member of the AdminGroup")
    token_cmd.add_argument("--ttl", type=int, default=3600, help="seconds")
    token_cmd.set_defaults(run=token)

    invoke_cmd = commands.add_parser(
        "invoke", help="invoke a function of the running stack (like sam local invoke)"
    )
    invoke_cmd.add_argument("function", help="logical id (ApiFunction) or function name")
    invoke_cmd.add_argument("-e", "--event", help="JSON event file, e.g. events/api/get-credits.json")
    invoke_cmd.set_defaults(run=invoke)

    demo_cmd = commands.add_parser("demo", help="start a stack and run the product end to end on it")
    demo_cmd.add_argument("--time-scale", type=float, default=0.25, help="wall s per schedule s")
    demo_cmd.add_argument("--outputs", type=Path, default=Path("outputs"), help="where outputs are saved")
    demo_cmd.add_argument(
        "--keep",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the stack running afterwards for the CLI (default: when run in a terminal)",
    )
    demo_cmd.set_defaults(run=demo)

    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
