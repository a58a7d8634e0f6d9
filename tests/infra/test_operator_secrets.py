"""infra/operator_secrets.py (issue 3, points 3 and 4): the secrets an operator fills in, and the stack outputs."""

import json

from infra_synth import resolve_join

from tollgate import contract


def test_created_secrets_hold_only_placeholders_in_every_field(synth):
    stripe_secret_id, moesif_secret_id = synth.secret_ids()
    secrets = synth.resources("AWS::SecretsManager::Secret")

    assert json.loads(secrets[moesif_secret_id]["Properties"]["SecretString"]) == {
        field: contract.SECRET_PLACEHOLDER for field in contract.MOESIF_SECRET_FIELDS
    }
    stripe_value = json.loads(secrets[stripe_secret_id]["Properties"]["SecretString"])
    assert set(stripe_value.values()) == {contract.SECRET_PLACEHOLDER}
    assert set(contract.STRIPE_SECRET_FIELDS) <= set(stripe_value)


def test_upgrading_never_overwrites_the_stripe_secret_an_operator_filled(synth):
    """CloudFormation writes a changed SecretString over the secret's current value: the Stripe
    secret keeps the logical id, description and template value of the single secret of 0.1."""
    stripe_secret_id, _ = synth.secret_ids()
    properties = synth.resources("AWS::SecretsManager::Secret")[stripe_secret_id]["Properties"]

    assert stripe_secret_id.startswith("DataSecret")
    assert properties["SecretString"] == (
        '{"stripe_secret_key":"REPLACE_ME","stripe_webhook_secret":"REPLACE_ME","api_key":"REPLACE_ME"}'
    )
    assert properties["Description"] == (
        "Tollgate: Stripe secret key, Stripe webhook signing secret, Moesif application id (api_key). Created with "
        "placeholders; set the real values after deploy."
    )


def test_firehose_reads_only_the_moesif_secret_and_the_functions_that_need_it_read_the_stripe_one(synth):
    stripe_secret_id, moesif_secret_id = synth.secret_ids()
    readers: dict[str, set[str]] = {stripe_secret_id: set(), moesif_secret_id: set()}
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"]):
                for secret_id in readers:
                    if secret_id in json.dumps(statement["Resource"]):
                        readers[secret_id] |= {role["Ref"] for role in policy["Properties"]["Roles"]}

    def role(prefix: str) -> str:
        (role_id,) = [logical_id for logical_id in synth.resources("AWS::IAM::Role") if logical_id.startswith(prefix)]
        return role_id

    firehose = {role_id for role_id in synth.resources("AWS::IAM::Role") if "DeliveryStream" in role_id}
    # The account function too: a rotated key's Moesif user (issue 12).
    assert readers[moesif_secret_id] - firehose == {role("FunctionsRegisterRole"), role("CustomerAccountsAccountRole")}
    assert firehose <= readers[moesif_secret_id] and not firehose & readers[stripe_secret_id]
    assert readers[stripe_secret_id] == {
        role("FunctionsRegisterRole"),
        role("FunctionsCheckoutRole"),
        role("FunctionsStripeWebhookRole"),
        role("UsageMeteringReporterRole"),
        role("ReconcilerRole"),
        role("CustomerAccountsAccountRole"),
    }


def test_the_placeholder_appears_nowhere_but_in_the_secret(synth):
    template = dict(synth.json)
    template["Resources"] = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] != "AWS::SecretsManager::Secret"
    }

    assert contract.SECRET_PLACEHOLDER not in json.dumps(template)


def test_no_secret_looking_value_is_in_the_template(synth):
    text = json.dumps(synth.json["Resources"])

    for marker in ("sk_live_", "sk_test_", "whsec_", "rk_live_"):
        assert marker not in text


def test_existing_secrets_are_used_instead_of_creating_them(synth_custom):
    from infra_synth import EXISTING_MOESIF_SECRET_ARN, EXISTING_STRIPE_SECRET_ARN

    created = synth_custom.resources("AWS::SecretsManager::Secret")
    generated = ("BackendSecret", "CustomerAccountsSiteOriginSecret")  # generated values, never an operator's
    assert [logical_id for logical_id in created if not logical_id.startswith(generated)] == []
    firehose = json.dumps(synth_custom.resources("AWS::KinesisFirehose::DeliveryStream"))
    assert EXISTING_MOESIF_SECRET_ARN in firehose and EXISTING_STRIPE_SECRET_ARN not in firehose


def test_outputs_give_urls_ids_and_the_put_secret_commands(synth):
    outputs = synth.json["Outputs"]
    stripe_secret_id, moesif_secret_id = synth.secret_ids()
    usage_plans = synth.plan_usage_plans()

    assert {
        "ApiUrl",
        "SignupUrl",
        "UsagePlanIds",
        "StripeSecretArn",
        "MoesifSecretArn",
        "StripeWebhookUrl",
        "PutStripeSecretCommand",
        "PutMoesifSecretCommand",
    } <= set(outputs)
    assert resolve_join(outputs["UsagePlanIds"]["Value"]) == ",".join(
        f"{plan_id}=<{logical_id}>"
        for plan_id, logical_id in zip(
            [plan.id for plan in synth.settings.plans],
            [logical_id for logical_id, resource in usage_plans.items()],
            strict=True,
        )
    )
    (register_id,) = [
        logical_id
        for logical_id, function in synth.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == contract.HANDLER_REGISTER
    ]
    assert outputs[contract.STACK_OUTPUT_REGISTER_FUNCTION]["Value"] == {"Ref": register_id}
    assert outputs["StripeSecretArn"]["Value"] == {"Ref": stripe_secret_id}
    assert outputs["MoesifSecretArn"]["Value"] == {"Ref": moesif_secret_id}
    assert resolve_join(outputs["StripeWebhookUrl"]["Value"]).endswith(contract.ROUTE_STRIPE_WEBHOOK)
    for event in contract.STRIPE_WEBHOOK_EVENTS:
        assert event in outputs["StripeWebhookUrl"]["Description"]
    for output, secret_id, fields in (
        ("PutStripeSecretCommand", stripe_secret_id, contract.STRIPE_SECRET_FIELDS),
        ("PutMoesifSecretCommand", moesif_secret_id, contract.MOESIF_SECRET_FIELDS),
    ):
        command = resolve_join(outputs[output]["Value"])
        assert command.startswith(
            f"aws secretsmanager put-secret-value --region <AWS::Region> --secret-id <{secret_id}> "
        )
        secret_json = json.loads(command.split("--secret-string ", 1)[1].strip("'"))
        assert set(secret_json) == set(fields)
