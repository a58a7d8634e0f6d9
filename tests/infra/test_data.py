"""Issue 3, points 3 and 4: the secret and the tables."""

import json

from aws_cdk.assertions import Match

from tollgate import contract


def test_accounts_table_is_keyed_by_email_with_the_lookup_indexes(synth):
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": contract.ACCOUNTS_PARTITION_KEY, "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                    "TimeToLiveSpecification": {"AttributeName": contract.ACCOUNTS_TTL_ATTRIBUTE, "Enabled": True},
                    "GlobalSecondaryIndexes": Match.array_with(
                        [
                            {
                                "IndexName": index,
                                "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
                                "Projection": {"ProjectionType": "ALL"},
                            }
                            for index, attribute in contract.ACCOUNTS_INDEXES
                        ]
                    ),
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_idempotency_table_has_the_powertools_layout(synth):
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": contract.IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": contract.IDEMPOTENCY_TTL_ATTRIBUTE, "Enabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_created_secret_holds_only_placeholders_in_every_field(synth):
    (secret,) = synth.resources("AWS::SecretsManager::Secret").values()

    assert json.loads(secret["Properties"]["SecretString"]) == {
        field: contract.SECRET_PLACEHOLDER for field in contract.SECRET_FIELDS
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


def test_an_existing_secret_is_used_instead_of_creating_one(synth_custom):
    from infra_synth import EXISTING_SECRET_ARN

    assert not synth_custom.resources("AWS::SecretsManager::Secret")
    assert EXISTING_SECRET_ARN in json.dumps(synth_custom.resources("AWS::KinesisFirehose::DeliveryStream"))
