"""The one way the stack makes a DynamoDB table, so every table gets the same secure defaults.

On demand (no capacity to size), encrypted with the AWS-managed key, a string partition key (and,
where a table has one, a sort key) and a TTL attribute. What differs between tables is what losing
them would cost, and each caller says it: `backups` (point-in-time recovery), `keep_on_delete`
(RETAIN when the stack is deleted) and `deletion_protection` (a delete of the table itself is refused).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


def on_demand_table(
    scope: Construct,
    construct_id: str,
    *,
    partition_key: str,
    ttl_attribute: str | None,
    backups: bool,
    keep_on_delete: bool,
    deletion_protection: bool = False,
    sort_key: tuple[str, dynamodb.AttributeType] | None = None,
) -> dynamodb.Table:
    """A table keyed by the string `partition_key` (and `sort_key`: name, type), items expiring by `ttl_attribute`
    (None: items that never expire)."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key[0], type=sort_key[1]) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        )
        if backups
        else None,
        time_to_live_attribute=ttl_attribute,
        deletion_protection=deletion_protection or None,
        removal_policy=RemovalPolicy.RETAIN if keep_on_delete else RemovalPolicy.DESTROY,
    )
