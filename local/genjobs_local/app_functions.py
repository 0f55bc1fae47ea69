"""The app's own Lambda functions that pipeline steps invoke, deployed next to the template's.

On AWS an app deploys its functions itself and lists their ARNs in the template's AppFunctionArns.
Locally the examples shipped under examples/functions are deployed the same way before the
template (their ARNs are its parameter): each is a Lambda function named `<stack>-<name>`, with a
role of its own that grants nothing (an app function gets its files as presigned URLs), and runs
in-process like the template's functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genjobs_local.lambda_runtime import FunctionSpec
from genjobs_local.paths import REPO_ROOT
from genjobs_local.provisioner import placeholder_zip

EXAMPLES_DIR = REPO_ROOT / "examples" / "functions"
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass(frozen=True)
class AppFunction:
    name: str  # deployed as <stack>-<name>; a pipeline step names it by either
    code_dir: Path
    handler: str = "app.handler"
    timeout_s: int = 120
    memory_mb: int = 1024


EXAMPLES = (AppFunction("render", EXAMPLES_DIR / "render"),)


def deploy(
    iam: Any, lambda_: Any, stack_name: str, functions: tuple[AppFunction, ...] = EXAMPLES
) -> list[FunctionSpec]:
    """Creates each function and its role (with no permission) in moto; returns how to run them."""
    specs = []
    for function in functions:
        name = f"{stack_name}-{function.name}"
        role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST))
        created = lambda_.create_function(
            FunctionName=name,
            Role=role["Role"]["Arn"],
            Runtime="python3.13",
            Handler=function.handler,
            Code={"ZipFile": placeholder_zip()},
            Timeout=function.timeout_s,
            MemorySize=function.memory_mb,
        )
        specs.append(
            FunctionSpec(
                logical_id=name,
                name=name,
                arn=created["FunctionArn"],
                handler=function.handler,
                code_dir=function.code_dir,
                memory_mb=function.memory_mb,
                timeout_s=function.timeout_s,
                log_group=f"/aws/lambda/{name}",
                role_arn=role["Role"]["Arn"],
                # Only ever invoked synchronously by an invocation that holds a slot and waits idle
                # meanwhile (the runner): on AWS it runs in its own execution environment.
                limited=False,
            )
        )
    return specs
