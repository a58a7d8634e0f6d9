"""What the metered routes call, and how it knows that a call came through the gateway.

Three kinds of backend (settings: `backend_url`, `backend_function_arn`, neither):
- an HTTP backend (`backend_url`, or the built-in sample backend behind a Lambda function URL):
  its URL is public, so every proxied call carries contract.BACKEND_SECRET_HEADER with the value
  of a secret the stack generates (Secrets Manager `GenerateSecretString`, never in the template
  nor the docs), and the backend refuses calls without it. The stage gets the value through a
  CloudFormation dynamic reference in the integration's request parameters: CloudFormation
  resolves it when it creates or updates the method, never stores it, and does NOT re-resolve it
  when the secret changes ("Get a secret or secret value from Secrets Manager", CloudFormation
  user guide). So a rotation pins the new version: `backend_secret_version` puts its VersionId
  in the reference, the changed method makes a new API deployment, and the stage sends the new
  value from then on (docs/operations.md, "Rotating the backend secret"). The value is visible to whoever may
  read the API's configuration (apigateway:GET), as any integration header is.
- a Lambda function (`backend_function_arn`): invoked directly (AWS_PROXY), with no URL at all;
  only this API may invoke it (a resource-based permission per method, scoped to this API's ARN).
  No header is needed, and API Gateway could not add one: a Lambda proxy event carries the
  method request as received.
The caller's account goes to HTTP backends too (contract.BACKEND_ACCOUNT_ID_HEADER, the key
authorizer's $context.authorizer.principalId) with its account's API Gateway key id
(contract.BACKEND_API_KEY_ID_HEADER, $context.identity.apiKeyId), never a key value.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.functions import PythonFunction
from infra.nag import acknowledge
from infra.settings import Settings
from tollgate import contract


class Backend(Construct):
    """`function` for a Lambda backend; else `base_url` (ending in '/'), `secret` and the
    integration's `request_parameters` for an HTTP one."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, sample_backend: PythonFunction | None
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: lambda_.IFunction | None = None
        self.secret: secretsmanager.Secret | None = None
        self.base_url: str | None = None
        self.request_parameters: dict[str, str] = {}
        if settings.backend_function_arn:
            # Same account and region as the stack (docs/security.md): the stack adds this API's invoke
            # permission to it.
            self.function = lambda_.Function.from_function_attributes(
                self, "Function", function_arn=settings.backend_function_arn, same_environment=True
            )
            return
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Tollgate: the value the API gateway sends its backend in the "
            f"{contract.BACKEND_SECRET_HEADER} header; the backend refuses calls without it.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=contract.BACKEND_SECRET_LENGTH, exclude_punctuation=True, include_space=False
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Rotating it needs a deploy that pins the new version (backend_secret_version), so a rotation Lambda "
            "could not finish it; docs/operations.md gives the put-secret-value + deploy commands.",
        )
        if sample_backend is None:
            assert settings.backend_url is not None  # neither a function nor the sample: the owner's URL
            self.base_url = settings.backend_url.rstrip("/") + "/"
        else:
            self.base_url = self._serve_sample(sample_backend)
        value = SecretValue.secrets_manager(self.secret.secret_arn, version_id=settings.backend_secret_version)
        self.request_parameters = {
            f"integration.request.header.{contract.BACKEND_SECRET_HEADER}": f"'{value.unsafe_unwrap()}'",
            f"integration.request.header.{contract.BACKEND_API_KEY_ID_HEADER}": "context.identity.apiKeyId",
            f"integration.request.header.{contract.BACKEND_ACCOUNT_ID_HEADER}": "context.authorizer.principalId",
        }

    def _serve_sample(self, sample_backend: PythonFunction) -> str:
        """The sample backend on a public function URL, checking the header like any backend must."""
        assert self.secret is not None
        self.secret.grant_read(sample_backend.role)
        sample_backend.function.add_environment(contract.ENV_BACKEND_SECRET_ARN, self.secret.secret_arn)
        url = sample_backend.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        return url.url  # ends in '/'
