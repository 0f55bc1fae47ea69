"""GET /openapi.json: the API's OpenAPI 3.1 document, generated from the routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

TITLE = "genjobs API"
VERSION = "1.0.0"

router = Router()  # type: ignore[no-untyped-call]


def openapi_document(app: APIGatewayHttpResolver) -> str:
    # The OpenAPI models are pydantic classes that take longer to import than the rest of the API;
    # only this route needs them.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        summary="Background AI generation jobs: exact plans, credits, progress, cancel, outputs.",
        security_schemes={"jwt": HTTPBearer(bearerFormat="JWT", description="The API's JWT authorizer.")},
        security=[{"jwt": []}],
    )


@router.get("/openapi.json", include_in_schema=False)
def serve_openapi() -> Response[str]:
    document = openapi_document(cast("APIGatewayHttpResolver", router.api_resolver))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)
