"""The REST API: metered routes behind API keys and a usage plan, plus the public routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.backend import Backend
from infra.gateway_errors import (
    JSON_SCHEMA_DRAFT4,
    REGISTER_BODY_CONTENT_TYPE,
    REGISTER_BODY_MODEL,
    REGISTER_BODY_ROUTES,
    gateway_error_headers,
    gateway_errors,
)
from infra.nag import acknowledge
from infra.plan_settings import PlanSettings
from infra.settings import Settings
from tollgate import contract
from tollgate.plans import LEGACY_PLAN_ID


class TollgateApi(Construct):
    """REST API, its stage (access logs to the given destination) and a usage plan per Tollgate plan.

    Built in two steps because the signup site needs this API's URL first (its config.json and
    the quota answer's account link): the constructor makes the API, stage and usage plan;
    `add_routes` then wires the functions once the site's origin is known.

    Routes:
    - `/` and `/{proxy+}`, ANY: metered. API key required, counted by the usage plan, proxied to
      the backend (infra/backend.py): `backend_url` or the sample backend's function URL
      (HTTP_PROXY, with the gateway's secret header), or `backend_function_arn` (AWS_PROXY).
    - POST /register, POST /billing/checkout, POST /billing/checkout/outcome (the page back from
      Checkout; served by the checkout function), for machine clients: no usage-plan key, their own
      method throttling (a cap on their functions). No CORS: the signup page calls their twins on
      its own origin (`/api/register`, ..., contract.SITE_TWIN_OF_ROUTE), which no browser page of
      another origin needs to call either.
    - POST /stripe/webhook: no key (server-to-server; the handler verifies the signature), and no
      method throttle of its own that unsigned junk could use up in front of Stripe.
    - the signup site's `/api/...` routes (contract.SITE_ROUTES), which CloudFront serves on the
      site's own origin (infra/customer_accounts.py).

    Per-client limits on the unauthenticated routes are WAF's (infra/waf.py, on by default); the
    stage throttle is a high backstop shared by all. Method throttling on /register and
    /billing/checkout caps those functions (concurrency <= burst + rate x duration);
    `reserved_concurrency` adds a hard cap where the account's Lambda quota allows it.

    Validation is split on purpose: the /register (and /api/register) JSON model only checks the shape (an object
    whose known fields are strings of bounded length) so malformed bodies never cost a Lambda
    invocation; the Lambda does the real per-field validation and answers the detailed 400s.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        access_log_destination: apigw.IAccessLogDestination,
        access_log_format: apigw.AccessLogFormat,
        custom_domain: str | None = None,
    ) -> None:
        """`custom_domain`: the API's own host name (infra/domains.py maps it to the stage); the default
        execute-api address is then turned off, so neither the name nor the WAF can be bypassed."""
        super().__init__(scope, construct_id)
        self._settings = settings
        self._custom_domain = custom_domain
        browser_route_throttle = apigw.MethodDeploymentOptions(
            throttling_rate_limit=settings.register_rate_limit,
            throttling_burst_limit=settings.register_burst_limit,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{Stack.of(self).stack_name}-api",
            description="Tollgate: API keys, usage plan and sign-up in front of the monetized backend",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            cloud_watch_role=False,
            disable_execute_api_endpoint=True if custom_domain else None,  # None: the template as before
            deploy_options=apigw.StageOptions(
                stage_name=settings.stage_name,
                access_log_destination=access_log_destination,
                access_log_format=access_log_format,
                metrics_enabled=True,
                tracing_enabled=settings.enable_tracing,
                # A backstop far above any plan: shared by every caller, so never the cap that
                # matters (per-IP WAF rules and per-key usage plans are).
                throttling_rate_limit=settings.stage_rate_limit,
                throttling_burst_limit=settings.stage_burst_limit,
                # The site's /api routes are as costly as /register (the sign-up confirmation runs it).
                method_options={
                    **{f"{route}/POST": browser_route_throttle for route in contract.SIGN_UP_ROUTES},
                    **{f"{route}/{method}": browser_route_throttle for route, method in contract.SITE_ROUTES.items()},
                },
            ),
        )
        self.stage = self.rest_api.deployment_stage
        if custom_domain is not None:
            # Turning the default endpoint off takes effect with a new deployment of the stage
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-disable-default-endpoint.html).
            self.rest_api.latest_deployment.add_to_logical_id({"disableExecuteApiEndpoint": True})
            # CDK's own output of the stage's execute-api URL would name an address that answers 403.
            self.rest_api.node.try_remove_child("Endpoint")
        self._integrations: dict[str, apigw.LambdaIntegration] = {}
        self._register_body_validation: tuple[apigw.IRequestValidator, apigw.IModel] | None = None
        self.usage_plans = {plan.id: self._add_usage_plan(plan) for plan in settings.plans}
        acknowledge(
            self.stage,
            "AwsSolutions-APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role, an account singleton this "
            "stack must not own; every request is access-logged (Firehose -> Moesif) and stage metrics are on.",
        )

    def _add_usage_plan(self, plan: PlanSettings) -> apigw.UsagePlan:
        """The plan's throttle and quota for the keys on it. The flat settings' one plan keeps the
        logical id of the usage plan from before plans existed, so upgrading replaces nothing (its
        keys stay on it); every other plan's id follows its plan id."""
        construct_id = "UsagePlan" if plan.id == LEGACY_PLAN_ID else f"UsagePlan-{plan.id}"
        return self.rest_api.add_usage_plan(
            construct_id,
            name=f"{Stack.of(self).stack_name}-{self._settings.stage_name}-{plan.id}",
            description=f"Tollgate plan {plan.id} ({plan.name}): its keys' throttle and quota",
            throttle=apigw.ThrottleSettings(rate_limit=plan.throttle_rate_limit, burst_limit=plan.throttle_burst_limit),
            quota=apigw.QuotaSettings(limit=plan.quota_limit, period=apigw.Period[plan.quota_period]),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.stage)],
        )

    @property
    def url(self) -> str:
        """The API's base URL, ending in '/': the custom domain's, else the stage's invoke URL."""
        return f"https://{self._custom_domain}/" if self._custom_domain else self.rest_api.url

    @property
    def domain(self) -> str:
        """The custom domain, else <api id>.execute-api.<region>.<suffix>: no reference to the stage
        (CloudFront's /api/* origin)."""
        if self._custom_domain:
            return self._custom_domain
        stack = Stack.of(self)
        return f"{self.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"

    @property
    def origin_path(self) -> str:
        """What precedes a route at `domain`: the stage's name, or nothing on the custom domain (mapped at its root)."""
        return "" if self._custom_domain else f"/{self._settings.stage_name}"

    def url_for(self, route: str) -> str:
        return f"https://{self._custom_domain}{route}" if self._custom_domain else self.rest_api.url_for_path(route)

    def add_routes(
        self,
        *,
        site_origin: str,
        register: lambda_.Function,
        checkout: lambda_.Function,
        stripe_webhook: lambda_.Function,
        account: lambda_.Function,
        backend: Backend,
    ) -> None:
        """Wire every route; `site_origin` is the signup site's, whose account page the quota answer links."""
        self._add_gateway_responses(site_origin)
        functions = {contract.HANDLER_REGISTER: register, contract.HANDLER_CHECKOUT: checkout,
                     contract.HANDLER_ACCOUNT: account}
        register_method = self._add_function_route(contract.ROUTE_REGISTER, "POST", register)
        checkout_method = self._add_function_route(contract.ROUTE_CHECKOUT, "POST", checkout)
        outcome_method = self._add_function_route(contract.ROUTE_CHECKOUT_OUTCOME, "POST", checkout)
        webhook_method = self._add_function_route(contract.ROUTE_STRIPE_WEBHOOK, "POST", stripe_webhook)

        _without_authorizer(register_method, "Public sign-up by design; method throttling and a body model guard it.")
        _without_authorizer(
            checkout_method, "The handler authorizes: it checks the presented x-api-key against the account's key."
        )
        _without_authorizer(
            outcome_method, "Public by design: answers only a Checkout session's account status, to the page that "
            "holds the session id Stripe returned it with."
        )
        _without_authorizer(webhook_method, "Called by Stripe; the handler verifies the Stripe-Signature HMAC.")
        for route, method in contract.SITE_ROUTES.items():
            site_method = self._add_function_route(route, method, functions[contract.SITE_ROUTE_HANDLERS[route]])
            _without_authorizer(site_method, "The signup site's API on its own origin: sign-up and checkout as on "
                                "the API's public routes, sign-in and sign-up confirmation by emailed link, the rest "
                                "authorized by the session cookie in the handler.")
        for metered_method in self._add_metered_routes(backend):
            _without_authorizer(
                metered_method, "Authorized by API key + usage plan (apiKeyRequired), the product's access model."
            )

    def _add_function_route(self, route: str, method: str, function: lambda_.Function) -> apigw.Method:
        """`method` on `route` to `function`, no usage-plan key; the register body model checks the
        body first where it applies (gateway_errors.REGISTER_BODY_ROUTES)."""
        validation: dict[str, Any] = {}
        if route in REGISTER_BODY_ROUTES:
            validator, model = self._register_body_check()
            validation = {"request_validator": validator, "request_models": {REGISTER_BODY_CONTENT_TYPE: model}}
        return self.rest_api.root.resource_for_path(route).add_method(
            method, self._integration(function), api_key_required=False, **validation)

    def _register_body_check(self) -> tuple[apigw.IRequestValidator, apigw.IModel]:
        """The register body's validator and model, made once for every route it guards."""
        if self._register_body_validation is None:
            self._register_body_validation = (
                self.rest_api.add_request_validator(
                    "RegisterBodyValidator", validate_request_body=True, validate_request_parameters=True),
                self.rest_api.add_model(
                    "RegisterBody", content_type=REGISTER_BODY_CONTENT_TYPE, schema=_json_schema(REGISTER_BODY_MODEL)),
            )
        return self._register_body_validation

    def _integration(self, function: lambda_.Function) -> apigw.LambdaIntegration:
        """Integrate by ARN built from the function's fixed name, not by Ref (see PythonFunction):
        the methods must not depend on functions whose environment names the usage plan. The
        invoke permissions still wait for the function to exist. One integration per function."""
        function_name = function.node.default_child.function_name
        if function_name in self._integrations:
            return self._integrations[function_name]
        assert function_name and not Token.is_unresolved(function_name), "integrated functions need a fixed name"
        reference = lambda_.Function.from_function_attributes(
            self,
            f"{function.node.scope.node.id}Reference",
            function_arn=Stack.of(self).format_arn(
                service="lambda",
                resource="function",
                resource_name=function_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
            same_environment=True,
        )
        reference.node.add_dependency(function)
        self._integrations[function_name] = apigw.LambdaIntegration(reference)
        return self._integrations[function_name]

    def _add_metered_routes(self, backend: Backend) -> list[apigw.Method]:
        """`/` and `/{proxy+}`, any method, API key required, to the backend: an HTTP backend gets
        the path, the gateway's secret header and the caller's key id (infra/backend.py)."""
        proxy = self.rest_api.root.add_resource(contract.ROUTE_METERED_PROXY.lstrip("/"))
        proxy_params: dict[str, bool] = {}
        if backend.function is not None:
            root_integration = proxy_integration = apigw.LambdaIntegration(backend.function)
        else:
            assert backend.base_url is not None
            root_integration = apigw.HttpIntegration(
                backend.base_url, http_method="ANY",
                options=apigw.IntegrationOptions(request_parameters=backend.request_parameters),
            )
            proxy_integration = apigw.HttpIntegration(
                backend.base_url + "{proxy}",
                http_method="ANY",
                options=apigw.IntegrationOptions(request_parameters={
                    "integration.request.path.proxy": "method.request.path.proxy", **backend.request_parameters}),
            )
            proxy_params = {"method.request.path.proxy": True}
        return [
            self.rest_api.root.add_method("ANY", root_integration, api_key_required=True),
            proxy.add_method("ANY", proxy_integration, api_key_required=True, request_parameters=proxy_params or None),
        ]

    def _add_gateway_responses(self, site_origin: str) -> None:
        """Errors API Gateway answers itself (throttling, quota, bad body, 5xx) carry the headers
        of gateway_errors.gateway_error_headers (static values are quoted in a gateway response)."""
        headers = {name: f"'{value}'" for name, value in gateway_error_headers().items()}
        for response_type, (status, template) in gateway_errors(site_origin).items():
            self.rest_api.add_gateway_response(
                response_type,
                type=apigw.ResponseType.of(response_type),
                status_code=status,
                response_headers=headers,
                templates={"application/json": template},
            )


def _without_authorizer(method: apigw.Method, reason: str) -> None:
    """No IAM/Cognito authorizer on this method, for the reason given (the nag rules assume one)."""
    acknowledge(method, "AwsSolutions-APIG4", reason)
    acknowledge(method, "AwsSolutions-COG4", reason)


def _json_schema(model: Mapping[str, Any]) -> apigw.JsonSchema:
    """apigw.JsonSchema of a plain-data model (infra/gateway_errors.py), for the keywords those
    models use; any other keyword or draft stops the synth rather than being dropped silently."""
    unknown = set(model) - {"$schema", "type", "properties", "additionalProperties", "maxLength"}
    if unknown or model.get("$schema", JSON_SCHEMA_DRAFT4) != JSON_SCHEMA_DRAFT4:
        raise ValueError(f"infra/api.py translates draft-4 type/properties/additionalProperties/maxLength models "
                         f"only, not {sorted(unknown) or model['$schema']}; extend _json_schema")
    properties, additional = model.get("properties"), model.get("additionalProperties")
    kind = model["type"]  # one type name, or a list of them (draft 4 allows both)
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4 if "$schema" in model else None,
        type=[apigw.JsonSchemaType[name.upper()] for name in kind] if isinstance(kind, list)
        else apigw.JsonSchemaType[kind.upper()],
        max_length=model.get("maxLength"),
        properties={name: _json_schema(spec) for name, spec in properties.items()} if properties else None,
        additional_properties=_json_schema(additional) if isinstance(additional, Mapping) else additional,
    )

