"""The whole local stack in this process: moto server, template resources, functions, pollers, HTTP API."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import boto3
import requests
from moto.server import ThreadedMotoServer

from genjobs_local import app_functions, environments, iam, moto_adjustments
from genjobs_local.console import ConsoleSite
from genjobs_local.http_api import HttpApiFront, HttpServer, authorizers_from_openapi, routes_from_openapi
from genjobs_local.intrinsics import REGION
from genjobs_local.lambda_runtime import FunctionSpec, Handler, LambdaRunner
from genjobs_local.paths import DEFAULT_TEMPLATE, state_dir_from_env
from genjobs_local.provisioner import Provisioner
from genjobs_local.schedules import Schedule, Scheduler, rate_seconds
from genjobs_local.sqs_poller import DEFAULT_CONCURRENCY, Mapping, SqsPoller
from genjobs_local.streams import StreamPoller, event_source_mappings, stream_mappings
from genjobs_local.template import Translated, translate
from genjobs_local.tokens import AUDIENCE, Jwk
from genjobs_local.websocket_api import WebSocketApi, socket_routes

STACK_NAME = "genjobs-local"

log = logging.getLogger(__name__)


class LocalStack:
    """Use `LocalStack.start(...)`, as a context manager or with an explicit `stop()`."""

    _live: ClassVar[LocalStack | None] = None

    def __init__(self) -> None:
        self._saved_env: dict[str, str | None] = {}
        self._stopped = False
        self._moto: ThreadedMotoServer | None = None
        self._http: HttpServer | None = None
        self._simulator: Any = None
        self._pollers: list[SqsPoller] = []
        self._stream_pollers: list[StreamPoller] = []
        self.live: WebSocketApi | None = None
        self.live_url = ""
        self._scheduler: Scheduler | None = None
        self._clients: dict[str, Any] = {}
        self._session: boto3.Session | None = None
        self.moto_url = ""
        self.api_url = ""
        self.issuer = ""
        self.simulator_url = ""
        self.parameters: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.resources: dict[str, str] = {}
        self.resource_types: dict[str, str] = {}
        self.identities: iam.Identities | None = None  # role credentials and every IAM check
        self._functions: environments.FunctionDeps | None = None
        self.app_functions: dict[str, str] = {}  # the app's own functions pipelines invoke: name -> ARN

    # ---- lifecycle -------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        *,
        port: int = 0,
        time_scale: float | None = None,
        template_path: Path = DEFAULT_TEMPLATE,
        state_dir: Path | None = None,
        parameters: dict[str, str] | None = None,
        handlers: dict[str, Handler] | None = None,
        simulator: bool = True,
        schedules: bool = True,
        lambda_concurrency: int | None = None,
    ) -> LocalStack:
        """Start everything; `handlers` replaces functions' code (by logical id or name) for tests.

        `schedules=False` keeps the schedule threads off (use `run_schedules_now()`).
        `lambda_concurrency` caps the invocations running at once (default: see lambda_runtime).

        One stack per process (functions share os.environ and moto's backends): starting one stops
        the stack already running, so separate session fixtures (tests/e2e, tests/local) take turns.
        """
        if cls._live is not None:
            log.warning("stopping the running local stack: only one runs per process")
            cls._live.stop()
        stack = cls()
        cls._live = stack
        try:
            stack._start(
                port,
                time_scale,
                template_path,
                state_dir or state_dir_from_env(),
                parameters or {},
                handlers or {},
                simulator,
                schedules,
                lambda_concurrency,
            )
        except BaseException:
            stack.stop()
            raise
        return stack

    def _start(
        self,
        port: int,
        time_scale: float | None,
        template_path: Path,
        state_dir: Path,
        overrides: dict[str, str],
        handlers: dict[str, Handler],
        with_simulator: bool,
        with_schedules: bool,
        lambda_concurrency: int | None,
    ) -> None:
        self.state_dir = state_dir
        self.jwk = Jwk.from_state_dir(state_dir)
        self._set_env(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN=None,
            AWS_PROFILE=None,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
        )
        if time_scale is not None:
            self._set_env(TIME_SCALE=str(time_scale))
        moto_adjustments.install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request otherwise
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, moto_port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{moto_port}"
        # The ASL interpreter calls services at localhost:MOTO_PORT; handlers' boto3 at AWS_ENDPOINT_URL.
        self._set_env(MOTO_PORT=str(moto_port), AWS_ENDPOINT_URL=self.moto_url)
        requests.post(f"{self.moto_url}/moto-api/reset", timeout=10)  # a stack earlier in this process

        self._http = HttpServer(port=port)  # bound now: its URL is a template parameter
        self.issuer = self._http.base_url
        if with_simulator:
            self._start_simulator()

        # The app's functions exist before the template, which takes their ARNs (AppFunctionArns).
        app_specs = app_functions.deploy(self.client("iam"), self.client("lambda"), STACK_NAME)
        self.app_functions = {spec.name: spec.arn for spec in app_specs}
        template_parameters = self._template_parameters(template_path, overrides)
        translated = translate(template_path, {k: str(v) for k, v in template_parameters.items()})
        self.parameters = _typed_parameters(translated.cfn, template_parameters)
        provisioner = Provisioner(translated.cfn, self.parameters, self.moto_url, STACK_NAME)
        created = provisioner.deploy()
        self.resources = {logical_id: c.physical_id for logical_id, c in created.items()}
        self.resource_types = {lid: translated.cfn["Resources"][lid]["Type"] for lid in created}
        self._fill_provider_secret(provisioner)
        self.identities = self._identities(provisioner, app_specs)
        iam.use(self.identities)

        self.runner = LambdaRunner(
            self._function_specs(translated, provisioner) + app_specs, lambda_concurrency
        )
        self._start_live_api(provisioner)
        self._functions = self._apply_environment(provisioner)
        iam.caches_per_function(
            ("aws_lambda_powertools.utilities.parameters.secrets", "DEFAULT_PROVIDERS"),
            ("genjobs.logic.providers", "_cache"),  # provider adapters, built from the secret
        )
        for function, handler in handlers.items():
            self.runner.override(function, handler)
        moto_adjustments.use_runner(self.runner)

        self._start_http_front(provisioner)
        self.outputs = self._local_outputs(provisioner)
        self._pollers = [
            SqsPoller(m, self.client("sqs"), self.runner.run, self.runner.limit)
            for m in _mappings(provisioner)
        ]
        for poller in self._pollers:
            poller.start()
        # Not an operator's client: each poller signs its reads with its function's role.
        streams = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=self.moto_url)
        self._stream_pollers = [
            StreamPoller(m, streams, self.runner.run) for m in stream_mappings(provisioner)
        ]
        for stream_poller in self._stream_pollers:
            stream_poller.start()
        self._scheduler = Scheduler(_schedules(provisioner), self.runner.run)
        if with_schedules:
            self._scheduler.start()

    def stop(self) -> None:
        """Idempotent: a stack stopped by a newer one stays stopped, leaving the newer one alone."""
        if self._stopped:
            return
        self._stopped = True
        if LocalStack._live is self:
            LocalStack._live = None
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        for stream_poller in self._stream_pollers:
            stream_poller.stop()
        self._stream_pollers = []
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._simulator is not None:
            self._simulator.stop()
            self._simulator = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        moto_adjustments.use_runner(None)
        iam.use(None)
        if self._functions is not None:
            environments.uninstall()
            self._functions = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- API for tests and tools ----------------------------------------------------------------
    def resource(self, logical_id: str) -> str:
        """Physical id (what Ref returns) of a resource of the translated template."""
        return self.resources[logical_id]

    def client(self, service: str) -> Any:
        """A boto3 client of moto (kept per service: creating clients is slow)."""
        if service not in self._clients:
            if self._session is None:
                # An operator's credentials: unrestricted, even when used inside a function's invocation.
                self._session = boto3.Session(region_name=REGION)
                credentials = self._session.get_credentials()
                assert credentials is not None, "the stack sets AWS_ACCESS_KEY_ID before its first client"
                iam.operator(credentials)
            self._clients[service] = self._session.client(service, endpoint_url=self.moto_url)  # type: ignore[call-overload]
        return self._clients[service]

    def mint_token(self, user: str, *, admin: bool = False, ttl_seconds: int = 3600, **claims: Any) -> str:
        groups = [str(self.parameters["AdminGroup"])] if admin else None
        return self.jwk.mint(
            issuer=self.issuer,
            audience=AUDIENCE,
            user=user,
            groups=groups,
            ttl_seconds=ttl_seconds,
            extra_claims=claims,
        )

    @property
    def console_url(self) -> str:
        """The web console at the root of the API's origin (its files from the template's console
        routes, signing in with a minted token); the API serves it at `/<stage>/console/` as well."""
        return f"{self.issuer}/"

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function (logical id, name or ARN) in-process; raises FunctionError when it fails."""
        return self.runner.invoke(function, event)

    def restart_functions(self) -> None:
        """Every function starts cold at its next invocation: it reads its settings (its
        environment and os.environ) again."""
        assert self._functions is not None
        self._functions.restart()

    def override_handler(self, function: str, handler: Handler | None) -> None:
        """Replace a function's code (None restores the template's handler)."""
        self.runner.override(function, handler)

    def run_schedules_now(self) -> list[Any]:
        """Fire every schedule once, synchronously; returns each invocation's (payload, errored)."""
        assert self._scheduler is not None
        return self._scheduler.run_all_now()

    def wait_idle(self, timeout: float = 30.0, settle: float = 0.1) -> None:
        """Until no queue has a visible message, no batch runs and no execution is RUNNING."""
        sfn = self.client("stepfunctions")
        machines = [
            arn
            for lid, arn in self.resources.items()
            if self.resource_types[lid] == "AWS::StepFunctions::StateMachine"
        ]
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            busy = (
                any(p.busy for p in self._pollers)
                or any(p.busy for p in self._stream_pollers)
                or any(
                    sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
                    for arn in machines
                )
            )
            now = time.monotonic()
            quiet_since = None if busy else (quiet_since or now)
            if quiet_since is not None and now - quiet_since >= settle:
                return
            time.sleep(0.02)
        raise TimeoutError(f"local stack still busy after {timeout} s")

    def describe(self) -> dict[str, Any]:
        """What other processes need (written to <state dir>/stack.json by `genjobs-local start`)."""
        return {
            "api_url": self.api_url,
            "console_url": self.console_url,
            "live_url": self.live_url,
            "moto_url": self.moto_url,
            "simulator_url": self.simulator_url,
            "issuer": self.issuer,
            "audience": AUDIENCE,
            "admin_group": self.parameters.get("AdminGroup"),
            "outputs": self.outputs,
            "resources": self.resources,
            "app_functions": self.app_functions,
            "pid": os.getpid(),
        }

    # ---- steps of start -------------------------------------------------------------------------
    def _set_env(self, **values: str | None) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _start_simulator(self) -> None:
        try:
            from genjobs_local.simulator import SimulatorServer
        except ImportError:  # the simulator is optional: the stack runs without it
            log.warning("genjobs_local.simulator is not importable; starting without the simulator")
            return
        time_scale = float(os.environ.get("TIME_SCALE", "1.0"))
        self._simulator = SimulatorServer("127.0.0.1", 0, time_scale=time_scale)
        self._simulator.start()
        self.simulator_url = str(self._simulator.base_url)

    def _template_parameters(self, template_path: Path, overrides: dict[str, str]) -> dict[str, Any]:
        assert self._http is not None
        sns = self.client("sns")
        # Push platforms accept fake credentials in moto; the template takes their ARNs as parameters.
        fcm = sns.create_platform_application(
            Name=f"{STACK_NAME}-fcm", Platform="GCM", Attributes={"PlatformCredential": "local-fcm-key"}
        )
        apns = sns.create_platform_application(
            Name=f"{STACK_NAME}-apns",
            Platform="APNS_SANDBOX",
            Attributes={"PlatformCredential": "local-apns-key", "PlatformPrincipal": "local-apns-cert"},
        )
        stage = overrides.get("Stage", "local")
        self.api_url = f"{self._http.base_url}/{stage}"
        return {
            "Stage": stage,
            "JwtIssuer": self.issuer,
            "JwtAudience": AUDIENCE,
            "SimulatorBaseUrl": self.simulator_url,
            "FcmPlatformApplicationArn": fcm["PlatformApplicationArn"],
            "ApnsPlatformApplicationArn": apns["PlatformApplicationArn"],
            "PublicBaseUrl": self.api_url,
            "AppFunctionArns": ",".join(self.app_functions.values()),
        } | overrides

    def _fill_provider_secret(self, provisioner: Provisioner) -> None:
        # On AWS an operator puts provider keys in the secret; locally the simulator's go there.
        if self._simulator is None:
            return
        # The functions find it by PROVIDER_SECRET_ARN; other secrets (the cursor key) stay as created.
        provider_secrets = {
            variables["PROVIDER_SECRET_ARN"].get("Ref")
            for resource in provisioner.cfn["Resources"].values()
            if resource["Type"] == "AWS::Lambda::Function"
            for variables in [resource["Properties"].get("Environment", {}).get("Variables", {})]
            if isinstance(variables.get("PROVIDER_SECRET_ARN"), dict)
        }
        for logical_id, resource in provisioner.cfn["Resources"].items():
            if (
                resource["Type"] == "AWS::SecretsManager::Secret"
                and logical_id in self.resources
                and logical_id in provider_secrets
            ):
                secret = {"simulator": {"webhookSecret": self._simulator.webhook_secret}}
                self.client("secretsmanager").put_secret_value(
                    SecretId=self.resources[logical_id], SecretString=json.dumps(secret)
                )

    def _identities(self, provisioner: Provisioner, app_specs: list[FunctionSpec]) -> iam.Identities:
        # Which role each function and the state machine run with (role name -> logical id; the
        # app's functions, not the template's, by their name).
        principals = {str(spec.role_arn).rsplit("/", 1)[-1]: spec.name for spec in app_specs}
        state_machines = {}
        for logical_id, props in provisioner.properties.items():
            kind = self.resource_types[logical_id]
            role = props.get("Role") or props.get("RoleArn")
            if role and kind in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
                principals[str(role).rsplit("/", 1)[-1]] = logical_id
            if role and kind == "AWS::StepFunctions::StateMachine":
                state_machines[self.resources[logical_id]] = str(role)
        return iam.Identities(self.client("sts"), principals, state_machines)

    def _function_specs(self, translated: Translated, provisioner: Provisioner) -> list[FunctionSpec]:
        specs = []
        for logical_id, code_dir in translated.code_dirs.items():
            props = provisioner.properties[logical_id]
            created = provisioner.created[logical_id]
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    name=created.physical_id,
                    arn=created.attributes["Arn"],
                    handler=props["Handler"],
                    code_dir=code_dir,
                    memory_mb=int(props.get("MemorySize", 128)),
                    timeout_s=int(props.get("Timeout", 3)),
                    log_group=props.get("LoggingConfig", {}).get(
                        "LogGroup", f"/aws/lambda/{created.physical_id}"
                    ),
                    role_arn=props.get("Role"),
                )
            )
        return specs

    def _start_live_api(self, provisioner: Provisioner) -> None:
        """The template's WebSocket API (at most one), served on localhost."""
        apis = [lid for lid in provisioner.created if _is_websocket_api(provisioner, lid)]
        if not apis:
            return
        (api,) = apis
        api_id = provisioner.created[api].physical_id
        stages = [
            p["StageName"]
            for lid, p in provisioner.properties.items()
            if self.resource_types[lid] == "AWS::ApiGatewayV2::Stage" and p["ApiId"] == api_id
        ]
        routes, selection = socket_routes(provisioner, api)
        self.live = WebSocketApi(
            api_id=api_id, stage=stages[0], routes=routes, selection_field=selection, invoke=self.runner.run
        )
        self.live.start()
        self.live_url = self.live.url

    def _local_urls(self, value: Any) -> Any:
        """An AWS URL of the WebSocket API becomes the local one (the socket, or its management API)."""
        if self.live is None or not isinstance(value, str):
            return value
        aws_host = f"{self.live.api_id}.execute-api.{REGION}.amazonaws.com"
        local_socket = self.live.url.removesuffix(f"/{self.live.stage}")
        local_management = self.live.management_url.removesuffix(f"/{self.live.stage}")
        return value.replace(f"wss://{aws_host}", local_socket).replace(
            f"https://{aws_host}", local_management
        )

    def _apply_environment(self, provisioner: Provisioner) -> environments.FunctionDeps:
        variables = {
            logical_id: {
                k: self._local_urls(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()
            }
            for logical_id, props in provisioner.properties.items()
            if self.resource_types[logical_id] == "AWS::Lambda::Function"
        }
        # No X-Ray daemon locally; the functions' Tracer would only log errors.
        self._set_env(POWERTOOLS_TRACE_DISABLED="true", **environments.process_environment(variables))
        return environments.install(variables)

    def _start_http_front(self, provisioner: Provisioner) -> None:
        assert self._http is not None
        apis = [
            lid
            for lid, r in provisioner.cfn["Resources"].items()
            if r["Type"] == "AWS::ApiGatewayV2::Api" and not _is_websocket_api(provisioner, lid)
        ]
        if len(apis) != 1:
            raise NotImplementedError(f"the local front serves exactly one HTTP API, the template has {apis}")
        api = provisioner.created[apis[0]]
        stages = [
            p["StageName"]
            for lid, p in provisioner.properties.items()
            if self.resource_types[lid] == "AWS::ApiGatewayV2::Stage" and p["ApiId"] == api.physical_id
        ]
        body = api.attributes["Body"]
        routes = routes_from_openapi(body, authorizers_from_openapi(body, self.jwk.jwks()))
        stage = stages[0] if stages else "$default"
        console = ConsoleSite(
            api_path="" if stage == "$default" else f"/{stage}",
            mint=lambda user, admin: self.mint_token(user, admin=admin),
            forward=lambda request: front.handle(request),  # the template's console routes
            live_url=lambda: self.live_url,
        )
        front = HttpApiFront(
            api_id=api.physical_id,
            stage=stage,
            routes=routes,
            invoke=self.runner.run,
            extra_paths={
                "/.well-known/jwks.json": self.jwk.jwks,
                "/.well-known/openid-configuration": lambda: {
                    "issuer": self.issuer,
                    "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
                },
            },
            site=console.handle,
        )
        self._http.start(front)

    def _local_outputs(self, provisioner: Provisioner) -> dict[str, Any]:
        # The one value with no local equivalent: the API's AWS URL becomes the local one.
        api_ids = [
            c.physical_id
            for lid, c in provisioner.created.items()
            if self.resource_types[lid] == "AWS::ApiGatewayV2::Api"
        ]
        outputs = provisioner.outputs()
        for api_id in api_ids:
            aws_url = f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
            assert self._http is not None
            outputs = {
                k: v.replace(aws_url, self._http.base_url) if isinstance(v, str) else v
                for k, v in outputs.items()
            }
        return {k: self._local_urls(v) for k, v in outputs.items()}


def _is_websocket_api(provisioner: Provisioner, logical_id: str) -> bool:
    resource = provisioner.cfn["Resources"][logical_id]
    props = provisioner.properties.get(logical_id, {})
    return resource["Type"] == "AWS::ApiGatewayV2::Api" and props.get("ProtocolType") == "WEBSOCKET"


def _typed_parameters(cfn: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Template defaults + given values; CommaDelimitedList parameters become lists, as for Ref."""
    parameters: dict[str, Any] = {}
    for name, spec in cfn.get("Parameters", {}).items():
        value = values.get(name, spec.get("Default"))
        if value is None:
            raise ValueError(f"template parameter {name} has no value")
        parameters[name] = str(value).split(",") if spec.get("Type") == "CommaDelimitedList" else str(value)
    return parameters


def _mappings(provisioner: Provisioner) -> list[Mapping]:
    mappings = []
    for props in event_source_mappings(provisioner, lambda arn: arn.startswith("arn:aws:sqs:")):
        mappings.append(
            Mapping(
                function=str(props["FunctionName"]),
                queue_arn=str(props["EventSourceArn"]),
                batch_size=int(props.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures"
                in props.get("FunctionResponseTypes", []),
                max_concurrency=int(
                    props.get("ScalingConfig", {}).get("MaximumConcurrency", DEFAULT_CONCURRENCY)
                ),
            )
        )
    return mappings


def _schedules(provisioner: Provisioner) -> list[Schedule]:
    schedules = []
    for logical_id, resource in provisioner.cfn["Resources"].items():
        props = provisioner.properties.get(logical_id)
        if (
            resource["Type"] != "AWS::Scheduler::Schedule"
            or props is None
            or props.get("State") == "DISABLED"
        ):
            continue
        created = provisioner.created[logical_id]
        target = props["Target"]
        schedules.append(
            Schedule(
                created.physical_id,
                created.attributes["Arn"],
                rate_seconds(props["ScheduleExpression"]),
                target["Arn"],
                target.get("Input"),
            )
        )
    return schedules
