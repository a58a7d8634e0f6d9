"""One CORS policy (contract.py): the stage's preflight, the handlers' Powertools CORSConfig and the
local gateway answer the same preflight with the same Access-Control-* headers."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from localdev.gateway import GatewayDeployment, LocalGateway
from tollgate import contract
from tollgate.handlers.http import cors_policy

from infra_synth import resolve_join

ORIGIN = "https://d111111abcdef8.cloudfront.net"
STAGE_ORIGIN_PLACEHOLDER = "'https://<{}.DomainName>'"


def _normalised(headers: dict[str, str]) -> dict[str, object]:
    """Header name -> value, names case-folded, list values as case-folded sets (HTTP semantics)."""
    result: dict[str, object] = {}
    for name, value in headers.items():
        name = name.lower()
        if not name.startswith("access-control-"):
            continue
        if name in ("access-control-allow-headers", "access-control-allow-methods"):
            result[name] = {item.strip().lower() for item in value.split(",")}
        else:
            result[name] = value
    return result


def _stage_answer(synth, route: str) -> dict[str, str]:
    """The mock integration's response headers of the stage's OPTIONS method on `route`."""
    (distribution_id,) = synth.resources("AWS::CloudFront::Distribution")
    resources = synth.resources("AWS::ApiGateway::Resource")
    leaf = route.strip("/").split("/")[-1]
    for method in synth.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        resource = resources.get(props["ResourceId"].get("Ref", ""), {})
        if props["HttpMethod"] == "OPTIONS" and resource.get("Properties", {}).get("PathPart") == leaf:
            parameters = props["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
            headers = {}
            for key, value in parameters.items():
                text = resolve_join(value)
                if text == STAGE_ORIGIN_PLACEHOLDER.format(distribution_id):
                    text = f"'{ORIGIN}'"
                headers[key.removeprefix("method.response.header.")] = text.strip("'")
            return headers
    raise AssertionError(f"no OPTIONS method on {route}")


def _powertools_answer(route: str) -> dict[str, str]:
    """What a handler's resolver (built like tollgate.handlers.http builds it) answers."""
    app = APIGatewayRestResolver(cors=cors_policy(ORIGIN))
    app.post(route)(lambda: Response(200))
    event = {
        "resource": route, "path": route, "httpMethod": "OPTIONS",
        "headers": {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        "multiValueHeaders": {}, "requestContext": {"requestId": "r", "stage": "prod"}, "body": None,
    }
    response = app.resolve(event, None)
    assert response["statusCode"] == 204
    headers = dict(response.get("headers") or {})
    headers.update({name: ",".join(values) for name, values in (response.get("multiValueHeaders") or {}).items()})
    return headers


def _local_gateway_answer() -> dict[str, str]:
    deployment = GatewayDeployment("api", "prod", "plan", ORIGIN, None, "http://127.0.0.1:1", "app-id")
    return LocalGateway(deployment, apigateway_client=None)._preflight().headers


def test_stage_handlers_and_local_gateway_answer_a_preflight_alike(synth):
    for route in contract.CORS_ROUTES:
        stage = _normalised(_stage_answer(synth, route))
        assert stage == _normalised(_powertools_answer(route)), route
        assert stage == _normalised(_local_gateway_answer()), route
        assert stage["access-control-allow-origin"] == ORIGIN
        assert stage["access-control-max-age"] == str(contract.CORS_MAX_AGE_SECONDS)
        assert {h.lower() for h in contract.CORS_ALLOWED_HEADERS} == stage["access-control-allow-headers"]
