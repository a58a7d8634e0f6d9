"""The gateway feature: the REST API and its stage, a usage plan per plan, the answers API Gateway
gives itself, WAF, the access log to Firehose -> Moesif (and the usage ledger), and the backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.api_key_access import ApiKeyAccess
from infra.backend import Backend
from infra.domains import Domains
from infra.functions import Functions
from infra.gateway_errors import (
    JSON_SCHEMA_DRAFT4,
    REGISTER_BODY_CONTENT_TYPE,
    REGISTER_BODY_MODEL,
    REGISTER_BODY_ROUTES,
    gateway_error_headers,
    gateway_errors,
)
from infra.log_forwarding import MoesifLogForwarding
from infra.nag import acknowledge
from infra.operator_secrets import output_secret, placeholder_secret, stack_output
from infra.plan_settings import PlanSettings, runtime_catalog, usage_plan_limits
from infra.settings import Settings
from infra.waf import ApiFirewall
from tollgate import contract
from tollgate.plans import LEGACY_PLAN_ID

# Letters and digits: the value travels in a header and in a WAF byte match.
SITE_ORIGIN_SECRET_LENGTH = 64
_SITE_ROUTE_REASON = (
    "The signup site's API on its own origin: sign-up and checkout as on the API's public routes, "
    "sign-in and sign-up confirmation by emailed link, the rest authorized by the session cookie in "
    "the handler."
)


class Gateway(Construct):
    """REST API, its stage (access logs to Firehose, `access_logs`) and a usage plan per Tollgate plan;
    the Moesif secret Firehose reads; WAF (`firewall`, with the site-origin secret it checks); the
    backend (`backend`); the grants on this deployment's keys (`keys`). The features route their
    functions here (`add_function_route`, `add_site_routes`); the site links its account page into
    the quota answer (`add_gateway_responses`), as the API's URL must exist before the site's.

    Routes:
    - `/` and `/{proxy+}`, ANY: metered. The key authorizer (infra/authorizer.py) resolves the
      customer's key to its account and returns the account's API Gateway key, which the usage plan
      throttles and counts (key source AUTHORIZER, API key required); then proxied to the backend
      (infra/backend.py): `backend_url` or the sample backend's function URL (HTTP_PROXY, with the
      gateway's secret header), or `backend_function_arn` (AWS_PROXY).
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

    The construct id stays "Api" and the REST API stays at Api/RestApi: every Lambda permission's
    id names the REST API's path (infra/legacy_ids.py).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Functions,
        authorizer: apigw.IAuthorizer,
        domains: Domains | None,
    ) -> None:
        """With `api_domain`, `domains` maps the API's own host name to the stage; the default
        execute-api address is then turned off, so neither the name nor the WAF can be bypassed."""
        super().__init__(scope, construct_id)
        self._settings = settings
        self._custom_domain = custom_domain = settings.domains.api_domain
        stack = Stack.of(self)
        self.moesif_secret = placeholder_secret(
            self,
            "MoesifSecret",
            settings.existing_moesif_secret_arn,
            description="Tollgate: Moesif application id (api_key), read by Firehose and the register function. "
            "Created with a placeholder; set the real value after deploy.",
            fields=contract.MOESIF_SECRET_FIELDS,
            rotation="Holds the Moesif application id, which can only be changed in Moesif; change it there, then run "
            "the PutMoesifSecretCommand output (docs/operations.md).",
        )
        self.access_logs = MoesifLogForwarding(
            self,
            "AccessLogs",
            collector_url=settings.moesif_collector_url,
            secret=self.moesif_secret,
            stream_name_suffix=settings.stage_name,
            ledger_retention_days=settings.usage_ledger_retention_days,
        )
        browser_route_throttle = apigw.MethodDeploymentOptions(
            throttling_rate_limit=settings.register_rate_limit,
            throttling_burst_limit=settings.register_burst_limit,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{stack.stack_name}-api",
            description="Tollgate: API keys, usage plan and sign-up in front of the monetized backend",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The usage plan counts the key the authorizer returns (usageIdentifierKey), never one a client sends.
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            cloud_watch_role=False,
            disable_execute_api_endpoint=True if custom_domain else None,  # None: the template as before
            deploy_options=apigw.StageOptions(
                stage_name=settings.stage_name,
                access_log_destination=self.access_logs.access_log_destination,
                access_log_format=self.access_logs.access_log_format(),
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
        if domains is not None:
            domains.serve_api(self.rest_api, self.stage)
        self._integrations: dict[str, apigw.LambdaIntegration] = {}
        self._register_body_validation: tuple[apigw.IRequestValidator, apigw.IModel] | None = None
        self.usage_plans = {plan.id: self._add_usage_plan(plan) for plan in settings.plans}
        self.key_owner = f"{stack.stack_name}/{settings.stage_name}"  # contract.API_KEY_OWNER_TAG's value
        self.keys = ApiKeyAccess(stack, tuple(self.usage_plans.values()), self.key_owner)
        acknowledge(
            self.stage,
            "AwsSolutions-APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role, an account singleton this "
            "stack must not own; every request is access-logged (Firehose -> Moesif) and stage metrics are on.",
        )
        self.sample_backend = (
            functions.function(
                self,
                "SampleBackend",
                handler=contract.HANDLER_SAMPLE_BACKEND,
                timeout=Duration.seconds(5),
                description="Tollgate sample backend: echoes method, path and the caller's API key id",
                memory_size=128,
            )
            if settings.uses_sample_backend
            else None
        )
        self.backend = Backend(self, "Backend", settings=settings, sample_backend=self.sample_backend)
        for metered_method in self._add_metered_routes(self.backend, authorizer):
            acknowledge(
                metered_method,
                "AwsSolutions-COG4",
                "Authorized by the key authorizer (a Lambda REQUEST "
                "authorizer on the customer's Tollgate key) and the usage plan: the product's access model.",
            )
        self.site_origin_secret = self._site_origin_secret()
        self.firewall = self._firewall(settings)
        functions.provide(
            {
                contract.ENV_MOESIF_SECRET_ARN: self.moesif_secret.secret_arn,
                contract.ENV_PLANS: runtime_catalog(
                    settings.plans,
                    {plan_id: plan.usage_plan_id for plan_id, plan in self.usage_plans.items()},
                    settings.free_pool_size,
                ).to_json(),
                contract.ENV_KEY_OWNER: self.key_owner,
                contract.ENV_STAGE: settings.stage_name,
            }
        )
        self._add_outputs()

    def _site_origin_secret(self) -> secretsmanager.Secret:
        """The header CloudFront adds to the site's `/api/*` requests (infra/customer_accounts.py), without
        which WAF refuses them, so nobody calls the stage directly with a forged viewer IP."""
        secret = secretsmanager.Secret(
            self,
            "SiteOriginSecret",
            description="Tollgate: the header CloudFront adds to /api/* requests; WAF refuses /api/* without it.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SITE_ORIGIN_SECRET_LENGTH, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "CloudFront and WAF read it through a dynamic reference, resolved by CloudFormation at deploy "
            "time only, so a rotation Lambda's new value would never reach them (docs/operations.md, "
            "'The site-origin secret').",
        )
        return secret

    @property
    def site_origin_secret_value(self) -> str:
        """The secret's value as a CloudFormation dynamic reference (resolved by CloudFormation, in no
        template; "The secretsmanager dynamic reference can be used in all resource properties",
        CloudFormation user guide, "Get a secret or secret value from Secrets Manager")."""
        return self.site_origin_secret.secret_value.unsafe_unwrap()

    def _firewall(self, settings: Settings) -> ApiFirewall | None:
        if settings.enable_waf:
            return ApiFirewall(
                self,
                "Firewall",
                settings=settings,
                stage_arn=self.stage.stage_arn,
                site_origin_secret=self.site_origin_secret_value,
            )
        acknowledge(
            self.stage,
            "AwsSolutions-APIG3",
            "enable_waf=false: the operator chose to go without per-IP limits on sign-up, checkout and the "
            "webhook (docs/security.md); the method and stage throttles remain.",
        )
        return None

    def _add_outputs(self) -> None:
        stack_output(
            self, contract.STACK_OUTPUT_API_URL, self.url, "Base URL of the metered API (send the key in x-api-key)"
        )
        stack_output(
            self,
            "UsagePlanIds",
            Fn.join(
                ",",
                [Fn.join("=", [plan_id, usage_plan.usage_plan_id]) for plan_id, usage_plan in self.usage_plans.items()],
            ),
            "Each plan's usage plan (plan id=usage plan id, comma-separated)",
        )
        output_secret(
            self,
            "Moesif",
            self.moesif_secret,
            holds="the Moesif application id (read by Firehose)",
            values="Moesif application id",
            example={contract.SECRET_FIELD_MOESIF_APPLICATION_ID: "<Moesif application id>"},
        )
        if self.backend.secret is not None:
            stack_output(
                self,
                "BackendSecretArn",
                self.backend.secret.secret_arn,
                f"Secret your backend compares the {contract.BACKEND_SECRET_HEADER} header with "
                "(the stage sends it on every metered call)",
            )

    def _add_usage_plan(self, plan: PlanSettings) -> apigw.UsagePlan:
        """The plan's throttle and quota for the keys on it. The flat settings' one plan keeps the
        logical id of the usage plan from before plans existed, so upgrading replaces nothing (its
        keys stay on it); every other plan's id follows its plan id."""
        construct_id = "UsagePlan" if plan.id == LEGACY_PLAN_ID else f"UsagePlan-{plan.id}"
        limits = usage_plan_limits(plan, pooled=self._settings.pool_size(plan) > 0)  # a pooled plan's: per shard
        return self.rest_api.add_usage_plan(
            construct_id,
            name=f"{Stack.of(self).stack_name}-{self._settings.stage_name}-{plan.id}",
            description=f"Tollgate plan {plan.id} ({plan.name}): its keys' throttle and quota",
            throttle=apigw.ThrottleSettings(rate_limit=limits.rate_limit, burst_limit=limits.burst_limit),
            quota=None
            if limits.quota_limit is None
            else apigw.QuotaSettings(limit=limits.quota_limit, period=apigw.Period[limits.quota_period]),
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

    def add_function_route(self, route: str, method: str, function: lambda_.Function, why_public: str) -> None:
        """`method` on `route` to `function`, no usage-plan key (`why_public`: why it needs no
        authorizer); the register body model checks the body first where it applies
        (gateway_errors.REGISTER_BODY_ROUTES)."""
        validation: dict[str, Any] = {}
        if route in REGISTER_BODY_ROUTES:
            validator, model = self._register_body_check()
            validation = {"request_validator": validator, "request_models": {REGISTER_BODY_CONTENT_TYPE: model}}
        _without_authorizer(
            self.rest_api.root.resource_for_path(route).add_method(
                method, self._integration(function), api_key_required=False, **validation
            ),
            why_public,
        )

    def add_site_routes(self, handler: str, function: lambda_.Function) -> None:
        """The signup site's `/api/...` routes `handler` serves (contract.SITE_ROUTE_HANDLERS)."""
        for route, method in contract.SITE_ROUTES.items():
            if contract.SITE_ROUTE_HANDLERS[route] == handler:
                self.add_function_route(route, method, function, _SITE_ROUTE_REASON)

    def _register_body_check(self) -> tuple[apigw.IRequestValidator, apigw.IModel]:
        """The register body's validator and model, made once for every route it guards."""
        if self._register_body_validation is None:
            self._register_body_validation = (
                self.rest_api.add_request_validator(
                    "RegisterBodyValidator", validate_request_body=True, validate_request_parameters=True
                ),
                self.rest_api.add_model(
                    "RegisterBody", content_type=REGISTER_BODY_CONTENT_TYPE, schema=_json_schema(REGISTER_BODY_MODEL)
                ),
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

    def _add_metered_routes(self, backend: Backend, authorizer: apigw.IAuthorizer) -> list[apigw.Method]:
        """`/` and `/{proxy+}`, any method, behind the key authorizer, API key required (the authorizer's),
        to the backend: an HTTP backend gets the path, the gateway's secret header and the account's
        usage key id (infra/backend.py)."""
        proxy = self.rest_api.root.add_resource(contract.ROUTE_METERED_PROXY.lstrip("/"))
        proxy_params: dict[str, bool] = {}
        if backend.function is not None:
            root_integration = proxy_integration = apigw.LambdaIntegration(backend.function)
        else:
            assert backend.base_url is not None
            root_integration = apigw.HttpIntegration(
                backend.base_url,
                http_method="ANY",
                options=apigw.IntegrationOptions(request_parameters=backend.request_parameters),
            )
            proxy_integration = apigw.HttpIntegration(
                backend.base_url + "{proxy}",
                http_method="ANY",
                options=apigw.IntegrationOptions(
                    request_parameters={
                        "integration.request.path.proxy": "method.request.path.proxy",
                        **backend.request_parameters,
                    }
                ),
            )
            proxy_params = {"method.request.path.proxy": True}
        return [
            self.rest_api.root.add_method("ANY", root_integration, api_key_required=True, authorizer=authorizer),
            proxy.add_method(
                "ANY",
                proxy_integration,
                api_key_required=True,
                authorizer=authorizer,
                request_parameters=proxy_params or None,
            ),
        ]

    def add_gateway_responses(self, site_origin: str) -> None:
        """Errors API Gateway answers itself (throttling, quota, bad body, 5xx) carry the headers
        of gateway_errors.gateway_error_headers (static values are quoted in a gateway response);
        `site_origin` is the signup site's, whose account page the quota answer links."""
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
        raise ValueError(
            f"infra/gateway.py translates draft-4 type/properties/additionalProperties/maxLength models "
            f"only, not {sorted(unknown) or model['$schema']}; extend _json_schema"
        )
    properties, additional = model.get("properties"), model.get("additionalProperties")
    kind = model["type"]  # one type name, or a list of them (draft 4 allows both)
    return apigw.JsonSchema(
        schema=apigw.JsonSchemaVersion.DRAFT4 if "$schema" in model else None,
        type=[apigw.JsonSchemaType[name.upper()] for name in kind]
        if isinstance(kind, list)
        else apigw.JsonSchemaType[kind.upper()],
        max_length=model.get("maxLength"),
        properties={name: _json_schema(spec) for name, spec in properties.items()} if properties else None,
        additional_properties=_json_schema(additional) if isinstance(additional, Mapping) else additional,
    )
