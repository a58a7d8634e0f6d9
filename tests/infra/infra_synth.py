"""Synthesis helpers for tests/infra: the stack as cdk.json (plus overrides) describes it, with
bundling skipped (CDK then uses lambda_src/ itself as the asset) and cdk-nag on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.settings import Settings, load_cdk_json_context
from infra.stack import TollgateStack

REPO_ROOT = Path(__file__).resolve().parents[2]
EXISTING_STRIPE_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tollgate/prod-stripe-AbC123"
EXISTING_MOESIF_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tollgate/prod-moesif-XyZ789"
# An owner's brand, every setting given (synth_custom deploys it).
BRAND = {
    "product_name": "Acme Weather",
    "accent_color": "#1A1A2E",
    "logo_url": "https://cdn.acme.example/logo.svg",
    "terms_url": "https://acme.example/terms",
    "privacy_url": "https://acme.example/privacy",
    "support_contact": "help@acme.example",
}


def cdk_json_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context with bundling skipped (CDK then uses lambda_src/ itself as the asset)."""
    context = load_cdk_json_context(REPO_ROOT / "cdk.json")
    context["aws:cdk:bundling-stacks"] = []
    context.update(overrides)
    return context


@dataclass
class Synth:
    settings: Settings
    stack: TollgateStack
    template: Template
    outdir: Path

    @property
    def json(self) -> dict[str, Any]:
        return self.template.to_json()

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return self.template.find_resources(resource_type)

    def plan_usage_plans(self) -> dict[str, dict[str, Any]]:
        """The usage plans of the plans sold (not the "limit reached" one: infra/usage_limits.py)."""
        return {
            logical_id: plan
            for logical_id, plan in self.resources("AWS::ApiGateway::UsagePlan").items()
            if not resolve_join(plan["Properties"]["UsagePlanName"]).endswith("-limit-reached")
        }

    def role_statements(self, role_id: str) -> list[dict[str, Any]]:
        """Every IAM statement of the policies attached to the role `role_id`."""
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def role_grants(self, role_id: str) -> dict[str, list[str]]:
        """action -> resources of the role, resources rendered as readable strings (resolve_join)."""
        grants: dict[str, list[str]] = {}
        for statement in self.role_statements(role_id):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                grants.setdefault(action, []).extend(resolve_join(resource) for resource in resources)
        return grants

    def secret_ids(self) -> tuple[str, str]:
        """Logical ids of the created (Stripe secret, Moesif secret)."""
        ids = sorted(self.resources("AWS::SecretsManager::Secret"))
        (stripe,) = [logical_id for logical_id in ids if logical_id.startswith("DataSecret")]
        (moesif,) = [logical_id for logical_id in ids if logical_id.startswith("DataMoesifSecret")]
        return stripe, moesif


def synthesize(
    outdir: Path, env: cdk.Environment | None = None, lookups: dict[str, Any] | None = None, **overrides: Any
) -> Synth:
    """`env`: where the stack deploys (None: environment-agnostic, as app.py makes it without domains);
    `lookups`: context provider answers (cdk.context.json's), so a lookup needs no AWS account."""
    context = cdk_json_context(**overrides)
    settings = Settings.from_context(context)
    app = cdk.App(context={**context, **(lookups or {})}, outdir=str(outdir))
    stack = TollgateStack(app, "Tollgate", settings=settings, env=env)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    return Synth(
        settings, stack, Template.from_json(json.loads((outdir / "Tollgate.template.json").read_text())), outdir
    )


def resolve_join(value: Any) -> str:
    """Flatten an Fn::Join into a readable string with <Ref>/<GetAtt> placeholders (for asserts)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve_join(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    return json.dumps(value)
