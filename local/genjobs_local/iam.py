"""Each function and the state machine call AWS with their own role, and moto refuses what the role does not allow.

On AWS every function signs with its execution role's temporary credentials and IAM checks each
call (action + resource ARN) against the role's identity policies. Locally the functions share one
process (and the product's cached boto3 clients), so the credentials are chosen when a request is
signed: `acting_as(role)` around a handler sets them for its thread, each state of an execution of
the template's state machine sets that state machine's role for the interpreter's calls, and
everything else (tests, harness, state machines a test creates) keeps the process's admin
credentials, as an operator would.

moto checks IAM only when its global request counter says so, for every caller, and against
resource "*" for most services; here requests carrying an assumed role's session token are always
checked, with moto's own signature check and policy evaluator, against the (action, resource)
pairs AWS would check. Every check is recorded; denials are kept to fail a test session.
"""

from __future__ import annotations

import functools
import importlib
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.credentials import Credentials, ReadOnlyCredentials

# moto's assumed-role credentials last an hour; take new ones well before.
_CREDENTIALS_TTL_S = 45 * 60


@dataclass(frozen=True)
class Check:
    principal: str  # the function's or state machine's logical id
    action: str
    resource: str


@dataclass
class Identities:
    """Role credentials per principal, and the record of every permission check."""

    sts: Any  # an operator's STS client of moto
    principals: dict[str, str]  # role name -> logical id of the function or state machine using it
    state_machines: dict[str, str] = field(default_factory=dict)  # the template's: ARN -> role ARN
    checks: set[Check] = field(default_factory=set)
    denials: list[Check] = field(default_factory=list)
    _cache: dict[str, tuple[float, ReadOnlyCredentials]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def credentials(self, role_arn: str) -> ReadOnlyCredentials:
        with self._lock:
            cached = self._cache.get(role_arn)
            if cached is None or time.monotonic() - cached[0] > _CREDENTIALS_TTL_S:
                name = self.principals.get(role_arn.rsplit("/", 1)[-1], "genjobs")
                given = self.sts.assume_role(RoleArn=role_arn, RoleSessionName=name[:64])["Credentials"]
                frozen = ReadOnlyCredentials(
                    given["AccessKeyId"], given["SecretAccessKey"], given["SessionToken"]
                )
                cached = self._cache[role_arn] = (time.monotonic(), frozen)
            return cached[1]

    def record(self, role_name: str, action: str, resource: str, allowed: bool) -> None:
        check = Check(self.principals.get(role_name, role_name), action, resource)
        with self._lock:
            self.checks.add(check)
            if not allowed:
                self.denials.append(check)

    def granted_actions(self) -> dict[str, set[str]]:
        """Per principal, the actions it was allowed to call (what its role needs at least)."""
        found: dict[str, set[str]] = {}
        for check in self.checks:
            found.setdefault(check.principal, set()).add(check.action)
        return found


_active: Identities | None = None
_thread = threading.local()


def use(identities: Identities | None) -> None:
    """The identities of the running stack (one per process), None to sign as the process again."""
    global _active
    _active = identities


_OPERATOR = "_genjobs_local_operator"


def operator(credentials: Credentials) -> Credentials:
    """Marks credentials (of a boto3 Session) as an operator's: they sign as themselves even
    inside an invocation, e.g. a test's fake handler reaching for the harness's clients."""
    setattr(credentials, _OPERATOR, True)
    return credentials


@contextmanager
def acting_as(role_arn: str | None) -> Iterator[None]:
    """AWS calls signed in this thread during the block use `role_arn`'s credentials."""
    if _active is None or role_arn is None:
        yield
        return
    previous = getattr(_thread, "role", None)
    _thread.role = role_arn
    try:
        yield
    finally:
        _thread.role = previous


def install() -> None:
    """Signs with the current invocation's role (botocore asks for frozen credentials per request)."""
    original = Credentials.get_frozen_credentials

    def get_frozen_credentials(self: Credentials) -> ReadOnlyCredentials:
        role = getattr(_thread, "role", None)
        if _active is not None and role is not None and not getattr(self, _OPERATOR, False):
            return _active.credentials(role)
        return original(self)

    Credentials.get_frozen_credentials = get_frozen_credentials  # type: ignore[method-assign]
    _transfers_keep_the_role()
    _states_run_as_their_state_machine()
    _enforce_in_moto()


def _states_run_as_their_state_machine() -> None:
    # The interpreter calls services (Lambda, SQS, S3...) from the threads evaluating states
    # (Distributed Map children each in their own): every state sets its execution's role.
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    original = CommonStateField._eval_body

    def _eval_body(self: CommonStateField, env: Any) -> None:
        machine = env.states.context_object.context_object_data["StateMachine"]["Id"]
        # State machines the template does not declare (a test's own) run as the operator.
        with acting_as(None if _active is None else _active.state_machines.get(machine)):
            original(self, env)

    CommonStateField._eval_body = _eval_body  # type: ignore[method-assign]
    # A Task state runs its integration in a thread of its own (to enforce TimeoutSeconds).
    execute_state.__dict__["Thread"] = _RoleThread


class _RoleThread(threading.Thread):
    """A thread that runs with the role of the thread that created it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._role = getattr(_thread, "role", None)

    def run(self) -> None:
        _thread.role = self._role
        super().run()


class _RoleThreadPool(ThreadPoolExecutor):
    """Runs each task with the role of the thread that submitted it."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        role = getattr(_thread, "role", None)

        def as_role() -> Any:
            _thread.role = role
            try:
                return fn(*args, **kwargs)
            finally:
                _thread.role = None

        return super().submit(as_role)


def _transfers_keep_the_role() -> None:
    # boto3's upload_fileobj/download_fileobj (s3transfer) sign their parts in pool threads: without
    # this, a function's S3 uploads would be signed with the process's credentials and never checked.
    from s3transfer.futures import BoundedExecutor

    BoundedExecutor.EXECUTOR_CLS = _RoleThreadPool


class _PerRole(dict[Any, Any]):
    """A dict whose keys are kept apart per role of the invocation running in this thread."""

    def _key(self, name: Any) -> Any:
        return (getattr(_thread, "role", None), name)

    def __contains__(self, name: object) -> bool:
        return super().__contains__(self._key(name))

    def __getitem__(self, name: Any) -> Any:
        return super().__getitem__(self._key(name))

    def __setitem__(self, name: Any, value: Any) -> None:
        super().__setitem__(self._key(name), value)


def caches_per_function(*places: tuple[str, str]) -> None:
    """Makes each (module, dict attribute) a cache per role: on AWS every function's execution
    environment has its own, so a value one function fetched spares no other function its call.
    Emptied at every call: a stack started later in the process must not reuse clients of the last."""
    for module_name, attribute in places:
        module = importlib.import_module(module_name)
        module.__dict__[attribute] = _PerRole()


# ---- enforcement in moto's server ------------------------------------------------------------------


def _enforce_in_moto() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if _active is None or "X-Amz-Security-Token" not in self.headers:
            return original(self, iam_request_cls, resource)
        path = self.raw_path + ("?" + self.uri.split("?", 1)[1] if "?" in self.uri else "")
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=path,
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        request.check_signature()
        key = request._access_key
        role_name = key.arn.split("/")[-2]
        policies = key.collect_policies()
        for action, arn in _checks(self, request._action, resource):
            allowed = _permitted(policies, action, arn)
            _active.record(role_name, action, arn, allowed)
            if not allowed:
                raise _denial(request._service, key.arn, action, arn)
        return None

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]


def _permitted(policies: list[Any], action: str, resource: str) -> bool:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    results = [IAMPolicy(p).is_action_permitted(action, resource) for p in policies]
    return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results


def _denial(service: str, principal: str, action: str, resource: str) -> Exception:
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.s3.exceptions import S3AccessDeniedError

    message = (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )
    if service == "s3":
        return S3AccessDeniedError()
    if service == "sns":
        error = _RESTError("AuthorizationError", message)  # SNS answers in XML
        error.code = 403
        return error
    if service == "sqs":
        error = JsonRESTError("AccessDenied", message)
    else:  # the JSON services (DynamoDB, Step Functions, Secrets Manager, Lambda, KMS)
        error = JsonRESTError("AccessDeniedException", message)
    error.code = 403 if service in ("sqs", "lambda") else 400
    return error


# API operations whose IAM action has another name.
_IAM_ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction"}


def _checks(response: Any, action: str, resource: str) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs AWS authorises for one request."""
    service, _, operation = action.partition(":")
    action = _IAM_ACTIONS.get(action, action)
    region, account = response.region, response.current_account
    arn = f"arn:aws:{service}:{region}:{account}"
    if service == "dynamodb":
        return _dynamodb_checks(_json_body(response), operation, arn)
    if service == "states":
        body = _json_body(response)
        if operation.startswith("SendTask"):
            return [(action, "*")]  # no resource type for task tokens
        target = body.get("executionArn") or body.get("stateMachineArn") or body.get("mapRunArn") or "*"
        return [(action, target)]
    if service == "secretsmanager":
        return [(action, _secret_arn(response, _json_body(response).get("SecretId", "")))]
    if service == "sns":
        params = response.querystring
        for name in ("TopicArn", "TargetArn", "EndpointArn", "PlatformApplicationArn"):
            if params.get(name):
                return [(action, params[name][0])]
        return [(action, "*")]
    if service == "lambda":
        name = unquote(response.path.rsplit("/", 2)[-2]) if "/functions/" in response.path else ""
        if name.startswith("arn:"):
            return [(action, ":".join(name.split(":")[:7]))]
        return [(action, f"{arn}:function:{name}" if name else "*")]
    if service == "kms":
        key = _json_body(response).get("KeyId", "")
        return [(action, key if key.startswith("arn:") else f"{arn}:key/{key}" if key else "*")]
    return [(action, resource)]  # S3 objects and SQS queues: moto computed the ARN


def _json_body(response: Any) -> dict[str, Any]:
    body = response.body  # some of moto's responses hold it parsed already
    if isinstance(body, dict):
        return body
    return dict(json.loads(body or "{}"))


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _dynamodb_checks(body: dict[str, Any], operation: str, arn: str) -> list[tuple[str, str]]:
    def table(name: str, index: str | None = None) -> str:
        return f"{arn}:table/{name}" + (f"/index/{index}" if index else "")

    if operation in ("TransactWriteItems", "TransactGetItems"):
        # No IAM action of their own: each item is authorised as its own action on its table.
        pairs = []
        for entry in body.get("TransactItems", []):
            ((kind, op),) = entry.items()
            pairs.append((f"dynamodb:{_TRANSACT_ACTIONS[kind]}", table(op["TableName"])))
        return sorted(set(pairs))
    # DynamoDB Streams: authorised on the stream (a shard iterator begins with its stream's ARN).
    if "StreamArn" in body:
        return [(f"dynamodb:{operation}", body["StreamArn"])]
    if "ShardIterator" in body:
        return [(f"dynamodb:{operation}", str(body["ShardIterator"]).split("|", 1)[0])]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{operation}", table(name)) for name in sorted(body.get("RequestItems", {}))]
    if "TableName" in body:
        return [(f"dynamodb:{operation}", table(body["TableName"], body.get("IndexName")))]
    return [(f"dynamodb:{operation}", "*")]


def _secret_arn(response: Any, secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[response.current_account][response.region]
    for secret in backend.secrets.values():
        if getattr(secret, "name", None) == secret_id:
            return str(secret.arn)
    return "*"


def presigned_refusal(access_key: str, token: str, bucket: str, key: str) -> bool:
    """True when the assumed role that presigned a GET may not read the object (AWS answers 403)."""
    from moto.iam.access_control import AssumedRoleAccessKey, CreateAccessKeyFailure

    from genjobs_local.intrinsics import ACCOUNT_ID

    if _active is None:
        return False
    try:
        signer = AssumedRoleAccessKey(ACCOUNT_ID, "aws", access_key, {"X-Amz-Security-Token": token})
    except CreateAccessKeyFailure:
        return True
    resource = f"arn:aws:s3:::{bucket}/{key}"
    allowed = _permitted(signer.collect_policies(), "s3:GetObject", resource)
    _active.record(signer.arn.split("/")[-2], "s3:GetObject", resource, allowed)
    return not allowed


def signed_call_refusal(authorization: str, token: str | None, action: str, resource: str) -> bool:
    """True when the role whose credentials signed a request (its Authorization header, SigV4) may
    not call `action` on `resource`: for the services the stack serves itself, not moto."""
    if _active is None or not token:
        return False  # an operator's own credentials, as moto's enforcement leaves them alone
    access_key = authorization.partition("Credential=")[2].split("/", 1)[0]
    signer = _signer(access_key, token)
    if signer is None:
        return True
    role, policies = signer
    allowed = _permitted(policies, action, resource)
    _active.record(role, action, resource, allowed)
    return not allowed


@functools.lru_cache(maxsize=64)
def _signer(access_key: str, token: str) -> tuple[str, list[Any]] | None:
    """The role and policies of assumed-role credentials (kept: a role's policies do not change
    while the stack runs, and collecting them costs more than the call they authorise)."""
    from moto.iam.access_control import AssumedRoleAccessKey, CreateAccessKeyFailure

    from genjobs_local.intrinsics import ACCOUNT_ID

    try:
        signer = AssumedRoleAccessKey(ACCOUNT_ID, "aws", access_key, {"X-Amz-Security-Token": token})
    except CreateAccessKeyFailure:
        return None
    return signer.arn.split("/")[-2], signer.collect_policies()


def assumed_secret(access_key: str) -> str | None:
    """The secret of an assumed-role access key (moto's STS keeps it), None for other keys."""
    from moto.sts.models import sts_backends

    from genjobs_local.intrinsics import ACCOUNT_ID

    for assumed in sts_backends[ACCOUNT_ID]["aws"].assumed_roles:
        if assumed.access_key_id == access_key:
            return str(assumed.secret_access_key)
    return None
