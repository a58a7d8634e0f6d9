"""infra/signup.py: the idempotency table the register function replays retried sign-ups from."""

from tollgate import contract


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
