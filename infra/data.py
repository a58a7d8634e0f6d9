"""Where Tollgate keeps state: the accounts table, the idempotency table and the one secret."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge
from tollgate import contract


class TollgateData(Construct):
    """Accounts table, idempotency table and the Stripe/Moesif secret.

    The accounts table links paying customers to their keys and Stripe objects: it is RETAINed
    when the stack is deleted (losing it would orphan live subscriptions), and has point-in-time
    recovery. The idempotency table only holds Powertools' short-lived records for POST /register,
    so it is destroyed with the stack.

    The secret is created holding only contract.SECRET_PLACEHOLDER in every field (the runtime
    refuses to use it; the README's put-secret-value command fills it in after deploy), or an
    existing secret is used when its complete ARN is given, so real values never touch a template.
    """

    def __init__(self, scope: Construct, construct_id: str, *, existing_secret_arn: str | None = None) -> None:
        super().__init__(scope, construct_id)

        self.accounts_table = dynamodb.Table(
            self,
            "AccountsTable",
            partition_key=dynamodb.Attribute(name=contract.ACCOUNTS_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=contract.ACCOUNTS_TTL_ATTRIBUTE,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index_name, attribute in contract.ACCOUNTS_INDEXES:
            self.accounts_table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=attribute, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )

        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(
                name=contract.IDEMPOTENCY_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=contract.IDEMPOTENCY_TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.DESTROY,
        )

        if existing_secret_arn:
            self.secret: secretsmanager.ISecret = secretsmanager.Secret.from_secret_complete_arn(
                self, "Secret", existing_secret_arn
            )
            self.secret_is_managed = False
        else:
            self.secret = secretsmanager.Secret(
                self,
                "Secret",
                description="Tollgate: Stripe secret key, Stripe webhook signing secret, Moesif application id "
                "(api_key). Created with placeholders; set the real values after deploy.",
                secret_object_value={
                    field: SecretValue.unsafe_plain_text(contract.SECRET_PLACEHOLDER) for field in contract.SECRET_FIELDS
                },
                removal_policy=RemovalPolicy.DESTROY,
            )
            self.secret_is_managed = True
            acknowledge(
                self.secret,
                "AwsSolutions-SMG4",
                "Holds third-party credentials (Stripe keys, Moesif application id) that can only be rotated in "
                "the Stripe and Moesif dashboards; rotate there, then run the put-secret-value command (README).",
            )
