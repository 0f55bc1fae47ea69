"""Read template.yaml and turn it into plain CloudFormation offline, as `sam build` + deploy would."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from genjobs_local.intrinsics import REGION

# SAM wants S3 URIs for code; locally the code stays where it is, so the translator gets a
# placeholder (what `sam package` would upload) and we keep the real folder per function.
_ARTIFACTS = "s3://genjobs-local-artifacts/"


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only for bare names; the template has none."""

    def load(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class Translated:
    cfn: dict[str, Any]
    """The CloudFormation template (resources with their translated logical ids)."""
    code_dirs: dict[str, Path]
    """Logical id of each AWS::Lambda::Function -> folder of its code (the SAM CodeUri)."""


def translate(template_path: Path, parameters: dict[str, str]) -> Translated:
    """Translate the SAM template; local CodeUri/DefinitionUri/ContentUri resolve against its folder."""
    root = template_path.parent
    sam = yaml_parse(template_path.read_text())
    global_code_uri = sam.get("Globals", {}).get("Function", {}).get("CodeUri")
    if isinstance(global_code_uri, str):
        sam["Globals"]["Function"]["CodeUri"] = _ARTIFACTS + "functions"
    code_dirs: dict[str, Path] = {}
    for logical_id, resource in sam["Resources"].items():
        props = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            code_uri = props.get("CodeUri", global_code_uri)
            if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
                raise ValueError(f"{logical_id}: local mode needs a local CodeUri, got {code_uri!r}")
            code_dirs[logical_id] = (root / code_uri).resolve()
            if "CodeUri" in props:
                props["CodeUri"] = _ARTIFACTS + logical_id
        elif resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            # Inline the ASL so the translator emits DefinitionString + DefinitionSubstitutions.
            props["Definition"] = json.loads((root / props.pop("DefinitionUri")).read_text())
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = _ARTIFACTS + logical_id
    # The translator reads the region from a boto3 session, i.e. the environment.
    saved_region = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION
    try:
        cfn = transform(copy.deepcopy(sam), dict(parameters), _NoManagedPolicies())
    finally:
        if saved_region is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved_region
    return Translated(cfn=cfn, code_dirs=code_dirs)
