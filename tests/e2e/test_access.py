"""Who may do what, over HTTP against the local stack.

- Every JWT-protected route of template.yaml (found there, so a new route is covered at once) refuses a
  missing, expired, foreign-issuer, foreign-audience, forged or unsigned token with 401 and changes
  nothing; another user and an operator get only what the route's rule below says.
- The provider webhook refuses unsigned, forged, stale and misrouted deliveries and applies a valid
  one once.
- Outputs stay private: only their owner gets a URL, it is short-lived, and expires.
- The web console's routes are public and static: its files and settings, no data, nothing else of
  the repository.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from genjobs.providers.webhooks import signed_headers
from genjobs_local.stack import LocalStack
from genjobs_local.tokens import AUDIENCE, Jwk
from tests.e2e.conftest import TERMINAL, Client, provider_webhook_secret, sim_job, wait_for
from tests.support.template import template

pytestmark = [pytest.mark.e2e]

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
# The API document, the provider webhook (signed instead) and the web console's static files.
PUBLIC_ROUTES = {"GET /openapi.json", "POST /webhooks/{provider}", "GET /console", "GET /console/{proxy+}"}


# ------------------------------------------------------------------------------------------ routes
def template_routes() -> dict[str, bool]:
    """Every HttpApi route of the template -> whether the JWT authorizer guards it."""
    routes: dict[str, bool] = {}
    for resource in template()["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            authorizer = (props.get("Auth") or {}).get("Authorizer", "JwtAuthorizer")
            routes[f"{props['Method'].upper()} {props['Path']}"] = authorizer != "NONE"
    return routes


PROTECTED = sorted(route for route, guarded in template_routes().items() if guarded)


@dataclass
class World:
    """What the owner has: a running job, a device; a stranger and an operator (admin) beside them."""

    stack: LocalStack
    owner: Client
    stranger: Client
    operator: Client
    job_id: str
    device_id: str

    def client(self, who: str) -> Client:
        return {"owner": self.owner, "stranger": self.stranger, "operator": self.operator}[who]

    def snapshot(self) -> dict[str, Any]:
        """Everything of the owner's a request could change."""
        job = self.owner.job(self.job_id)
        device = self.stack.client("dynamodb").get_item(
            TableName=self.stack.resource("JobsTable"),
            Key={"pk": {"S": f"USER#{self.owner.user}"}, "sk": {"S": f"DEVICE#{self.device_id}"}},
        )
        return {
            "job": {k: job[k] for k in ("status", "counts", "credits", "cancelRequestedAt")},
            "jobs": sorted(j["jobId"] for j in self.owner.get("/jobs").json()["items"]),
            "credits": self.owner.credits(),
            "plan": self.owner.get("/me").json()["plan"]["name"],
            "device": "Item" in device,
        }


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Rule:
    """The request the route's rightful caller makes, and the status each kind of caller gets."""

    call: Callable[[World], Call]
    owner: int
    stranger: int
    operator: int
    rightful: str = "owner"  # whose identity the bad-credential requests claim
    # What the rightful operator's request changes in the owner's snapshot; nothing else may change.
    changes: Callable[[dict[str, Any]], dict[str, Any]] = lambda snapshot: snapshot


def _device_body(_: World) -> dict[str, Any]:
    return {"platform": "FCM", "token": f"fcm-{uuid.uuid4().hex}"}


def _granted(balance: dict[str, int], amount: int) -> dict[str, int]:
    return balance | {k: balance[k] + amount for k in ("granted", "available")}


RULES: dict[str, Rule] = {
    # The operator has no credits of its own (402): an admin token does not spend anyone else's.
    "POST /jobs": Rule(lambda w: Call("POST", "/jobs", sim_job(1)), 202, 202, 402),
    "GET /jobs": Rule(lambda w: Call("GET", "/jobs"), 200, 200, 200),
    "GET /jobs/{jobId}": Rule(lambda w: Call("GET", f"/jobs/{w.job_id}"), 200, 404, 404),
    "GET /jobs/{jobId}/tasks": Rule(lambda w: Call("GET", f"/jobs/{w.job_id}/tasks"), 200, 404, 404),
    "GET /jobs/{jobId}/events": Rule(lambda w: Call("GET", f"/jobs/{w.job_id}/events"), 200, 404, 404),
    "POST /jobs/{jobId}/cancel": Rule(lambda w: Call("POST", f"/jobs/{w.job_id}/cancel"), 202, 404, 404),
    # The owner's job is still running: nothing to retry yet (409 saying why).
    "POST /jobs/{jobId}/retry": Rule(lambda w: Call("POST", f"/jobs/{w.job_id}/retry", {}), 409, 404, 404),
    # A dry run only counts: operators only.
    "POST /admin/jobs/bulk": Rule(
        lambda w: Call("POST", "/admin/jobs/bulk", {"action": "cancel", "dryRun": True}),
        403,
        403,
        202,
        rightful="operator",
    ),
    # Operators list every user's jobs: the call filters to none (a creation before 2000), so that the
    # rule still proves the listing refuses users and tells an operator's request apart.
    "GET /admin/jobs": Rule(
        lambda w: Call("GET", "/admin/jobs?createdTo=2000-01-01T00:00:00Z"),
        403,
        403,
        200,
        rightful="operator",
    ),
    "GET /admin/operations/{operationId}": Rule(
        lambda w: Call("GET", f"/admin/operations/{uuid.uuid4()}"), 403, 403, 404, rightful="operator"
    ),
    # The rightful calls run in route order: by the pause's, the cancel's has made the job CANCELLING,
    # and the owner is told it cannot be paused (409); another user's job does not exist.
    "POST /jobs/{jobId}/pause": Rule(lambda w: Call("POST", f"/jobs/{w.job_id}/pause"), 409, 404, 404),
    "POST /jobs/{jobId}/resume": Rule(lambda w: Call("POST", f"/jobs/{w.job_id}/resume"), 200, 404, 404),
    # The owner's job has no signal step (404 naming the step); another user's job does not exist.
    "POST /jobs/{jobId}/signals/{name}": Rule(
        lambda w: Call("POST", f"/jobs/{w.job_id}/signals/approve", {"decision": "approve"}), 404, 404, 404
    ),
    "GET /credits": Rule(lambda w: Call("GET", "/credits"), 200, 200, 200),
    "POST /admin/credits": Rule(
        lambda w: Call(
            "POST",
            "/admin/credits",
            {"userId": w.owner.user, "amount": 1, "grantId": f"grant-{uuid.uuid4().hex}"},
        ),
        403,
        403,
        200,
        rightful="operator",
        changes=lambda s: s | {"credits": _granted(s["credits"], 1)},
    ),
    "GET /me": Rule(lambda w: Call("GET", "/me"), 200, 200, 200),
    "GET /plans": Rule(lambda w: Call("GET", "/plans"), 200, 200, 200),
    "GET /admin/users/{userId}": Rule(
        lambda w: Call("GET", f"/admin/users/{w.owner.user}"), 403, 403, 200, rightful="operator"
    ),
    "PUT /admin/users/{userId}/plan": Rule(
        lambda w: Call("PUT", f"/admin/users/{w.owner.user}/plan", {"plan": "pro"}),
        403,
        403,
        200,
        rightful="operator",
        changes=lambda s: s | {"plan": "pro"},
    ),
    "POST /devices": Rule(lambda w: Call("POST", "/devices", _device_body(w)), 201, 201, 201),
    "DELETE /devices/{deviceId}": Rule(lambda w: Call("DELETE", f"/devices/{w.device_id}"), 204, 404, 404),
}


def rule(route: str) -> Rule:
    if route not in RULES:
        pytest.fail(f"{route} has no access rule: add it to RULES (who may call it, and what others get)")
    return RULES[route]


def generic_call(route: str, world: World) -> Call:
    """A request to any route, rule or not: path parameters filled with the owner's ids."""
    if route in RULES:
        return RULES[route].call(world)
    method, path = route.split(" ", 1)
    path = path.replace("{jobId}", world.job_id).replace("{deviceId}", world.device_id)
    path = path.replace("{userId}", world.owner.user)
    return Call(method, path, {} if method in {"POST", "PUT", "PATCH"} else None)


def send(world: World, call: Call, authorization: str | None) -> requests.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.request(
        call.method, f"{world.stack.api_url}{call.path}", json=call.body, headers=headers, timeout=30
    )


def learned_ids(world: World, call: Call, response: requests.Response) -> set[str]:
    """The owner's ids in a response that the caller did not send itself."""
    sent = call.path + json.dumps(call.body)
    return {i for i in (world.job_id, world.device_id) if i in response.text and i not in sent}


# ------------------------------------------------------------------------------------------ world
def _client(stack: LocalStack, operator: Client, credits: int, *, admin: bool = False) -> Client:
    client = Client(stack, f"access-{uuid.uuid4().hex[:12]}", admin=admin)
    if credits:
        grant = {"userId": client.user, "amount": credits, "grantId": f"grant-{client.user}"}
        assert operator.post("/admin/credits", json=grant).status_code == 200
    return client


@pytest.fixture(scope="module")
def world(stack: LocalStack, operator: Client) -> Iterator[World]:
    owner = _client(stack, operator, 50)
    # A job that stays PROCESSING for the whole module (the provider takes a simulated day).
    job_id = owner.create(sim_job(1, latency=86_400))["jobId"]
    owner.wait(job_id, until=lambda job: job["counts"]["PROCESSING"] == 1)
    device = owner.post("/devices", json={"platform": "FCM", "token": f"fcm-{uuid.uuid4().hex}"})
    assert device.status_code == 201, device.text
    yield World(
        stack=stack,
        owner=owner,
        stranger=_client(stack, operator, 50),
        operator=_client(stack, operator, 0, admin=True),
        job_id=job_id,
        device_id=device.json()["deviceId"],
    )
    owner.post(f"/jobs/{job_id}/cancel")
    owner.wait(job_id, timeout=60)


# ------------------------------------------------------------------------------------------ tokens
@cache
def _other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _unsigned(stack: LocalStack, user: str) -> str:
    claims = {"sub": user, "iss": stack.issuer, "aud": AUDIENCE, "exp": int(time.time()) + 600}
    header = {"alg": "none", "typ": "JWT", "kid": stack.jwk.kid}

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


BAD_CREDENTIALS: dict[str, Callable[[LocalStack, str, bool], str | None]] = {
    "missing": lambda stack, user, admin: None,
    "not_a_jwt": lambda stack, user, admin: "Bearer not-a-jwt",
    "expired": lambda stack, user, admin: "Bearer " + stack.mint_token(user, admin=admin, ttl_seconds=-120),
    "wrong_issuer": lambda stack, user, admin: (
        "Bearer " + stack.mint_token(user, admin=admin, iss="https://issuer.invalid")
    ),
    "wrong_audience": lambda stack, user, admin: (
        "Bearer " + stack.mint_token(user, admin=admin, aud="another-app")
    ),
    # Signed by another key presenting our key id.
    "forged_signature": lambda stack, user, admin: (
        "Bearer "
        + Jwk(kid=stack.jwk.kid, key=_other_key()).mint(
            issuer=stack.issuer,
            audience=AUDIENCE,
            user=user,
            groups=[str(stack.parameters["AdminGroup"])] if admin else None,
        )
    ),
    "unsigned_alg_none": lambda stack, user, admin: "Bearer " + _unsigned(stack, user),
}


# ------------------------------------------------------------------------------------------ tests
@pytest.mark.contract
def test_route_lists_of_template_openapi_document_and_rules_agree() -> None:
    # GIVEN the routes the template declares
    routes = template_routes()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in json.loads(OPENAPI.read_text())["paths"].items()
        for method in operations
    }

    # THEN only the API document, the provider webhook and the console are public, every other route
    # is documented and has an access rule
    assert {route for route, guarded in routes.items() if not guarded} == PUBLIC_ROUTES
    assert set(PROTECTED) == documented
    assert set(PROTECTED) == set(RULES)


@pytest.mark.parametrize("credential", sorted(BAD_CREDENTIALS))
@pytest.mark.parametrize("route", PROTECTED)
def test_every_protected_route_refuses_a_bad_token_and_changes_nothing(
    world: World, route: str, credential: str
) -> None:
    # GIVEN the request the route's rightful caller would make, and the owner's state
    rightful = RULES[route].rightful if route in RULES else "owner"
    call = generic_call(route, world)
    authorization = BAD_CREDENTIALS[credential](
        world.stack, world.client(rightful).user, rightful == "operator"
    )
    before = world.snapshot()

    # WHEN it comes with a bad token
    response = send(world, call, authorization)

    # THEN the authorizer answers 401 and nothing changed
    assert response.status_code == 401, response.text
    assert world.snapshot() == before


@pytest.mark.parametrize("route", PROTECTED)
def test_another_user_gets_only_their_own_and_changes_nothing(world: World, route: str) -> None:
    # GIVEN the owner's request to the route, made by another (valid) user
    call = rule(route).call(world)
    before = world.snapshot()

    # WHEN they send it
    response = world.stranger.request(call.method, call.path, json=call.body)

    # THEN they get the rule's status, no id of the owner's they did not send, and the owner's state is unchanged
    assert response.status_code == rule(route).stranger, response.text
    assert learned_ids(world, call, response) == set()
    assert world.snapshot() == before


@pytest.mark.parametrize("route", PROTECTED)
def test_an_operator_token_opens_the_admin_routes_but_no_users_data(world: World, route: str) -> None:
    # GIVEN the owner's request to the route, made by an operator (cognito:groups has the admin group)
    call = rule(route).call(world)
    before = world.snapshot()

    # WHEN they send it
    response = world.operator.request(call.method, call.path, json=call.body)

    # THEN they get the rule's status and no id of the owner's they did not send; only an operator route (a
    # grant to the owner, their plan) changed the owner's state, and only as asked
    assert response.status_code == rule(route).operator, response.text
    assert learned_ids(world, call, response) == set()
    after = world.snapshot()
    assert after == rule(route).changes(before)


def test_a_user_naming_another_group_is_not_an_operator(world: World) -> None:
    # GIVEN a valid token whose cognito:groups holds a group that only looks like the admin group
    group = str(world.stack.parameters["AdminGroup"])
    token = world.stack.mint_token(world.stranger.user, **{"cognito:groups": [f"{group}-x", f"x{group}"]})
    before = world.snapshot()

    # WHEN it asks for a grant
    response = send(world, RULES["POST /admin/credits"].call(world), f"Bearer {token}")

    # THEN it is refused and no credit moved
    assert response.status_code == 403, response.text
    assert world.snapshot() == before


@pytest.mark.parametrize("route", PROTECTED)
def test_the_rightful_caller_is_served(world: World, route: str) -> None:
    """The requests refused above are real ones: with the right token they succeed (runs last)."""
    # GIVEN the route's rightful caller
    who = rule(route).rightful
    call = rule(route).call(world)

    # WHEN they send the request
    response = world.client(who).request(call.method, call.path, json=call.body)

    # THEN it is served
    assert response.status_code == getattr(rule(route), who), response.text


# ------------------------------------------------------------------------------------------ webhooks
def webhook_state(client: Client, job_id: str) -> dict[str, Any]:
    job = client.job(job_id)
    events = client.events(job_id)
    return {
        "job": {k: job[k] for k in ("status", "counts", "credits")},
        "tasks": [(t["status"], t.get("outputs")) for t in job["tasks"]],
        "webhooks": sum(e["kind"] == "task.webhook_received" for e in events),
        "credits": client.credits(),
    }


def test_webhook_refuses_unsigned_forged_stale_and_misrouted_deliveries_and_applies_a_valid_one_once(
    stack: LocalStack, app: Client, no_sweeper: None
) -> None:
    # GIVEN a webhook job of 2 tasks finished at the provider, whose own webhooks were lost
    job_id = app.create(sim_job(2, model="sim-image-webhook", webhook={"drop": True}))["jobId"]
    tasks = wait_for(
        lambda: (t := app.job(job_id)["tasks"]) and all(x.get("providerId") for x in t) and t,
        what="both tasks submitted",
    )

    def prediction(index: int) -> bytes:
        url = f"{stack.simulator_url}/v1/predictions/{tasks[index]['providerId']}"
        found = wait_for(lambda: (p := requests.get(url, timeout=10).json())["status"] == "succeeded" and p)
        return json.dumps(found).encode()

    secret, body, other_body = provider_webhook_secret(stack), prediction(0), prediction(1)
    url = f"{stack.api_url}/webhooks/simulator"

    def deliver(body: bytes, headers: dict[str, str], job: str = job_id, task: int = 0) -> requests.Response:
        return requests.post(
            url, params={"job": job, "task": str(task)}, data=body, headers=headers, timeout=10
        )

    before = webhook_state(app, job_id)
    forged_secret = "whsec_" + base64.b64encode(b"not-the-providers-signing-key!!").decode()
    now = int(time.time())

    # WHEN deliveries arrive unsigned, signed with another key, signed an hour ago or in an hour,
    # with a body other than the signed one, for a job that does not exist, or carrying the other
    # task's (validly signed) prediction
    refused = {
        "unsigned": deliver(body, {"content-type": "application/json"}),
        "forged": deliver(body, signed_headers(forged_secret, "msg-forged", body)),
        "stale": deliver(body, signed_headers(secret, "msg-stale", body, timestamp=now - 3600)),
        "future": deliver(body, signed_headers(secret, "msg-future", body, timestamp=now + 3600)),
        "tampered_body": deliver(other_body, signed_headers(secret, "msg-tampered", body)),
        "unknown_job": deliver(body, signed_headers(secret, "msg-no-job", body), job="no-such-job"),
        "other_task": deliver(other_body, signed_headers(secret, "msg-other-task", other_body)),
    }

    # THEN each is refused (401 for a bad signature, 404 for a delivery about another task) and
    # nothing changed
    assert {name: r.status_code for name, r in refused.items()} == {
        "unsigned": 401,
        "forged": 401,
        "stale": 401,
        "future": 401,
        "tampered_body": 401,
        "unknown_job": 404,
        "other_task": 404,
    }
    assert webhook_state(app, job_id) == before

    # WHEN the valid delivery arrives, then is replayed as is
    valid = signed_headers(secret, "msg-valid", body)
    first, replay = deliver(body, valid), deliver(body, valid)

    # THEN it applied once: task 0 completed with its output, charged once; the replay changed nothing
    assert (first.status_code, first.json()) == (200, {"result": "applied"})
    assert (replay.status_code, replay.json()) == (200, {"result": "duplicate"})
    after = webhook_state(app, job_id)
    assert after["tasks"][0][0] == "COMPLETED"
    assert after["tasks"][0][1]
    assert after["tasks"][1] == before["tasks"][1]
    assert after["webhooks"] == before["webhooks"] + 1
    assert after["credits"]["charged"] == before["credits"]["charged"] + 1

    # AND the job still ends normally once task 1's own delivery comes
    assert deliver(other_body, signed_headers(secret, "msg-valid-1", other_body), task=1).status_code == 200
    assert app.wait(job_id)["status"] == "COMPLETED"


# ------------------------------------------------------------------------------------------ outputs
def _finished_output(app: Client) -> tuple[str, str, str]:
    """A finished job's (job id, output URL, S3 key)."""
    job = app.wait(app.create(sim_job(1))["jobId"])
    assert job["status"] == "COMPLETED", job
    url = job["tasks"][0]["outputs"][0]["url"]
    key = url.split("?", 1)[0].split("/", 4)[4]  # http://host:port/<bucket>/<key>
    return job["jobId"], url, key


def _expiry(url: str) -> float:
    """When a presigned URL (SigV2 or SigV4) expires, in epoch seconds."""
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    if "X-Amz-Expires" in query:
        signed = time.mktime(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
        return signed + int(query["X-Amz-Expires"])
    return float(query["Expires"])


def test_output_bucket_is_private_encrypted_and_refuses_anonymous_reads(
    stack: LocalStack, app: Client
) -> None:
    # GIVEN a stored output
    _, _, key = _finished_output(app)
    s3, bucket = stack.client("s3"), stack.resource("OutputBucket")

    # WHEN anyone reads its key without a signature
    anonymous = requests.get(f"{stack.moto_url}/{bucket}/{key}", timeout=10)

    # THEN S3 refuses; the bucket blocks public access and encrypts at rest, as the template says
    assert anonymous.status_code == 403
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


@pytest.fixture
def output_url_ttl(stack: LocalStack) -> Iterator[Callable[[int], None]]:
    """Sets OUTPUT_URL_TTL_SECONDS for the functions (settings are read at cold start: start them cold)."""
    saved = os.environ.get("OUTPUT_URL_TTL_SECONDS")

    def set_ttl(seconds: int) -> None:
        os.environ["OUTPUT_URL_TTL_SECONDS"] = str(seconds)
        stack.restart_functions()

    yield set_ttl
    if saved is None:
        os.environ.pop("OUTPUT_URL_TTL_SECONDS", None)
    else:
        os.environ["OUTPUT_URL_TTL_SECONDS"] = saved
    stack.restart_functions()


def test_output_url_is_short_lived_works_for_its_owner_and_is_refused_after_expiry(
    app: Client, make_user: Callable[..., Client], output_url_ttl: Callable[[int], None]
) -> None:
    # GIVEN the default settings: an output URL lives 15 minutes at most
    _, default_url, _ = _finished_output(app)
    assert _expiry(default_url) - time.time() <= 900 + 5

    # AND output URLs that live 2 seconds
    output_url_ttl(2)
    job_id, url, _ = _finished_output(app)
    stranger = make_user(credits=0)

    # WHEN the owner's URL is fetched at once, and after it expired
    fresh = requests.get(url, timeout=10)
    time.sleep(max(0.0, _expiry(url) - time.time()) + 1.2)
    stale = requests.get(url, timeout=10)

    # THEN it worked, then S3 refused it as expired
    assert fresh.status_code == 200
    assert fresh.content
    assert stale.status_code == 403
    assert "Request has expired" in stale.text
    # AND another user never gets a URL: the job is not theirs to read
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/tasks"):
        refused = stranger.get(path)
        assert refused.status_code == 404
        assert "http" not in refused.text
    assert job_id not in stranger.get("/jobs").text


def test_the_console_is_served_by_the_api_to_anyone_and_holds_no_data(stack: LocalStack) -> None:
    # GIVEN no token at all
    console = f"{stack.api_url}/console"

    # WHEN the console's page, one of its modules and its settings are fetched from the API
    page = requests.get(f"{console}/", timeout=10)
    module = requests.get(f"{console}/js/api.js", timeout=10)
    config = requests.get(f"{console}/config.json", timeout=10)

    # THEN ConsoleFunction serves them as a browser runs them
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in page.text
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    assert "export async function loadConfig" in module.text
    # AND the settings send the console to this API on its own origin, and to the live channel,
    # signing in with a pasted token as when deployed
    assert config.json() == {
        "apiUrl": f"/{stack.parameters['Stage']}",
        "liveUrl": stack.live_url,
        "signIn": "token",
    }
    # AND /console leads to the folder; nothing outside it, and no data without a token
    bare = requests.get(console, timeout=10, allow_redirects=False)
    assert (bare.status_code, bare.headers["location"]) == (301, "console/")
    for path in ("/%2e%2e/%2e%2e/template.yaml", "/../pyproject.toml", "/js/../../README.md", "/nothing.js"):
        refused = requests.get(f"{console}{path}", timeout=10)
        assert refused.status_code == 404, path
        assert refused.json() == {"message": "Not Found"}
    assert requests.get(f"{stack.api_url}/jobs", timeout=10).status_code == 401
    # AND the stack's root serves the same files through the same route, signing in locally
    root = requests.get(stack.console_url, timeout=10)
    assert root.text == page.text
    assert "apigw-requestid" in root.headers
    assert requests.get(f"{stack.console_url}config.json", timeout=10).json()["signIn"] == "local"


def test_no_job_is_left_running(stack: LocalStack, app: Client) -> None:
    # GIVEN the jobs above ended
    # THEN the stack is idle (no execution left RUNNING for the tests after these)
    stack.wait_idle(timeout=60)
    assert not [j for j in app.get("/jobs").json()["items"] if j["status"] not in TERMINAL]
