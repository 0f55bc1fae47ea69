"""Who is calling, as route dependencies (`Depends`); tests replace them with
`app.dependency_overrides`."""

from __future__ import annotations

from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from genjobs.deps import deps
from genjobs.logic.errors import Forbidden


def _claims(request: Request) -> dict[str, Any]:
    event = cast(APIGatewayProxyEventV2, request.resolved_event)
    return event.request_context.authorizer.jwt_claim or {}


def caller(request: Request) -> str:
    """The user the API's JWT authorizer verified (its `sub`)."""
    sub = _claims(request).get("sub")
    if not sub:
        raise Forbidden("the token has no subject")
    return str(sub)


def require_admin(request: Request) -> None:
    """Refuses a caller who is not in the operators' group (`cognito:groups`)."""
    raw = _claims(request).get("cognito:groups", "")
    # Cognito passes the groups as a list, or through an HTTP API as "[a b]" or "[a,b]".
    groups = raw if isinstance(raw, list) else str(raw).strip("[]").replace(",", " ").split()
    if deps().settings.admin_group not in groups:
        raise Forbidden("this route is for operators")


Caller = Annotated[str, Depends(caller)]
Admin = Annotated[None, Depends(require_admin)]
