"""Where Tollgate keeps state: the accounts table, the keys table, the idempotency table and the two secrets."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.nag import acknowledge
from tollgate import contract

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}


class TollgateData(Construct):
    """Accounts table, keys table, idempotency table, the Stripe secret and the Moesif secret.

    The accounts table links paying customers to their keys and Stripe objects: it is RETAINed
    when the stack is deleted (losing it would orphan live subscriptions), and has point-in-time
    recovery. The keys table holds the keys customers hold, as their SHA-256 only (contract.KEYS_*): the
    authorizer's one read per call (infra/authorizer.py); losing it would lock every customer out, so it is
    kept like the accounts table (RETAIN, deletion protection, point-in-time recovery), with a TTL that
    removes ended keys' items. The idempotency table only holds Powertools' short-lived records for POST /register,
    so it is destroyed with the stack.

    Two secrets, so that Firehose (which reads the Moesif application id) can never read a Stripe
    key. Each is created holding only contract.SECRET_PLACEHOLDER in every field (the runtime
    refuses to use it; the put-secret-value command outputs fill it in after deploy), or an
    existing secret is used when its complete ARN is given, so real values never touch a template.
    """

    def __init__(self, scope: Construct, construct_id: str, *, existing_stripe_secret_arn: str | None = None,
                 existing_moesif_secret_arn: str | None = None) -> None:
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
        for index_name, attribute, kind in contract.ACCOUNTS_INDEXES:
            self.accounts_table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=attribute, type=_ATTRIBUTE_TYPES[kind]),
                projection_type=dynamodb.ProjectionType.ALL,
            )

        self.keys_table = dynamodb.Table(
            self,
            "KeysTable",
            partition_key=dynamodb.Attribute(name=contract.KEYS_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=contract.KEYS_TTL_ATTRIBUTE,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
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

        # The Stripe secret keeps the construct id and template value of the single secret of
        # earlier versions, on purpose: CloudFormation writes a changed SecretString over the values
        # an operator put, so the value stays as it was (its `api_key` placeholder is read no more).
        self.stripe_secret = self._secret(
            "Secret",
            existing_stripe_secret_arn,
            description="Tollgate: Stripe secret key, Stripe webhook signing secret, Moesif application id "
            "(api_key). Created with placeholders; set the real values after deploy.",
            fields=(*contract.STRIPE_SECRET_FIELDS, contract.SECRET_FIELD_MOESIF_APPLICATION_ID),
            rotation="Holds Stripe's secret key and webhook signing secret, which can only be rotated in the Stripe "
            "dashboard; rotate there, then run the PutStripeSecretCommand output (docs/operations.md).",
        )
        self.moesif_secret = self._secret(
            "MoesifSecret",
            existing_moesif_secret_arn,
            description="Tollgate: Moesif application id (api_key), read by Firehose and the register function. "
            "Created with a placeholder; set the real value after deploy.",
            fields=contract.MOESIF_SECRET_FIELDS,
            rotation="Holds the Moesif application id, which can only be changed in Moesif; change it there, then run "
            "the PutMoesifSecretCommand output (docs/operations.md).",
        )

    def _secret(self, construct_id: str, existing_arn: str | None, *, description: str, fields: tuple[str, ...],
                rotation: str) -> secretsmanager.ISecret:
        """The existing secret when its complete ARN is given, else one holding only placeholders
        (`rotation` says why Secrets Manager cannot rotate it: the nag reason)."""
        if existing_arn:
            return secretsmanager.Secret.from_secret_complete_arn(self, construct_id, existing_arn)
        secret = secretsmanager.Secret(
            self,
            construct_id,
            description=description,
            secret_object_value={field: SecretValue.unsafe_plain_text(contract.SECRET_PLACEHOLDER) for field in fields},
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(secret, "AwsSolutions-SMG4", rotation)
        return secret
