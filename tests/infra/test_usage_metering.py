"""Issue 10: the path from the ledger to the Stripe meter on AWS (infra/usage_metering.py), and
the ledger's layout Firehose writes (infra/log_forwarding.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from infra_synth import resolve_join

from infra.log_forwarding import LEDGER_HOUR_EXPRESSION
from infra.usage_metering import MAX_CONCURRENCY, REPORTER_TIMEOUT
from tollgate import contract

JAVA_TO_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}


def _one(synth, resource_type: str, where=lambda properties: True) -> tuple[str, dict]:
    (found,) = [
        (logical_id, resource)
        for logical_id, resource in synth.resources(resource_type).items()
        if where(resource.get("Properties", {}))
    ]
    return found


def _reports_table(synth) -> tuple[str, dict]:
    return _one(
        synth,
        "AWS::DynamoDB::Table",
        lambda p: any(
            index["IndexName"] == contract.USAGE_REPORTS_INDEX_PENDING for index in p.get("GlobalSecondaryIndexes", [])
        ),
    )


def _reporter(synth) -> dict:
    return _one(synth, "AWS::Lambda::Function", lambda p: p.get("Handler") == contract.HANDLER_USAGE_REPORTER)[1]


def test_firehose_writes_the_ledger_in_hour_folders_the_runtime_reads(synth):
    (stream,) = synth.resources("AWS::KinesisFirehose::DeliveryStream").values()
    backup = stream["Properties"]["HttpEndpointDestinationConfiguration"]["S3Configuration"]
    expression = LEDGER_HOUR_EXPRESSION.removeprefix("!{timestamp:").removesuffix("}/")
    for java, strftime in JAVA_TO_STRFTIME.items():
        expression = expression.replace(java, strftime)
    moment = datetime(2026, 12, 2, 7, 5, tzinfo=UTC)

    assert backup["Prefix"] == contract.USAGE_LEDGER_PREFIX + LEDGER_HOUR_EXPRESSION
    assert backup["ErrorOutputPrefix"].startswith(
        contract.USAGE_LEDGER_FAILED_PREFIX + "!{firehose:error-output-type}/"
    )
    assert backup["CompressionFormat"] == "GZIP"
    assert backup["BufferingHints"]["IntervalInSeconds"] == 60
    assert moment.strftime(expression + "/") == moment.strftime(contract.USAGE_LEDGER_HOUR_FORMAT) == "2026/12/02/07/"


def test_new_ledger_objects_are_announced_on_an_encrypted_queue_with_dead_letters(synth):
    notification = _one(synth, "Custom::S3BucketNotifications")[1]["Properties"]
    (configuration,) = notification["NotificationConfiguration"]["QueueConfigurations"]
    queue_id = configuration["QueueArn"]["Fn::GetAtt"][0]
    queue = synth.resources("AWS::SQS::Queue")[queue_id]["Properties"]
    dead_letters = synth.resources("AWS::SQS::Queue")[queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]]

    assert configuration["Events"] == ["s3:ObjectCreated:*"]
    assert configuration["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": contract.USAGE_LEDGER_PREFIX}]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == contract.USAGE_QUEUE_MAX_RECEIVES
    assert queue["VisibilityTimeout"] == 6 * REPORTER_TIMEOUT.to_seconds()
    for properties in (queue, dead_letters["Properties"]):
        assert properties["SqsManagedSseEnabled"] is True
        assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600
    policy = json.dumps(_one(synth, "AWS::SQS::QueuePolicy", lambda p: {"Ref": queue_id} in p["Queues"])[1])
    assert '"aws:SecureTransport": "false"' in policy and "s3.amazonaws.com" in policy


def test_the_reporter_takes_one_object_at_a_time_two_at_most_reporting_failures_per_message(synth):
    mapping = _one(synth, "AWS::Lambda::EventSourceMapping")[1]["Properties"]
    reporter_id = _one(synth, "AWS::Lambda::Function", lambda p: p.get("Handler") == contract.HANDLER_USAGE_REPORTER)[0]

    assert mapping["FunctionName"] == {"Ref": reporter_id}
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": MAX_CONCURRENCY}
    assert _reporter(synth)["Properties"]["Timeout"] == REPORTER_TIMEOUT.to_seconds()


def test_the_reporter_may_read_ledger_objects_query_keys_and_write_its_reports_only(synth):
    from test_functions import _grants

    grants = _grants(synth, contract.HANDLER_USAGE_REPORTER)
    ledger_id = _one(
        synth,
        "AWS::S3::Bucket",
        lambda p: (
            "LifecycleConfiguration" in p
            and any(rule.get("Prefix") == "ledger/" for rule in p["LifecycleConfiguration"]["Rules"])
        ),
    )[0]
    reports_id = _reports_table(synth)[0]
    accounts_id = _one(
        synth, "AWS::DynamoDB::Table", lambda p: p["KeySchema"][0]["AttributeName"] == contract.ACCOUNTS_PARTITION_KEY
    )[0]
    counts_id = _one(
        synth,
        "AWS::DynamoDB::Table",
        lambda p: p["KeySchema"][0]["AttributeName"] == contract.USAGE_COUNTS_PARTITION_KEY,
    )[0]

    bucket = f"<{ledger_id}.Arn>"
    # issue 21: each meter event's evidence, and each closed day's compacted from it
    assert {action: sorted(grants[action]) for action in grants if action.startswith("s3:")} == {
        "s3:GetObject": [f"{bucket}/evidence/*", f"{bucket}/ledger/*"],
        "s3:PutObject": [f"{bucket}/evidence-days/*", f"{bucket}/evidence/*"],
        "s3:DeleteObject": [f"{bucket}/evidence-days/*"],
        "s3:ListBucket": [bucket],
    }
    assert _listing_condition(synth, contract.HANDLER_USAGE_REPORTER) == {
        "StringLike": {"s3:prefix": ["evidence/*", "evidence-days/*"]}
    }
    keys_id = _one(
        synth, "AWS::DynamoDB::Table", lambda p: p["KeySchema"][0]["AttributeName"] == contract.KEYS_PARTITION_KEY
    )[0]
    # the usage limits' writer (infra/usage_limits.py): the accounts' rows and their key items
    assert {action: grants[action] for action in grants if action.startswith("dynamodb:")} == {
        "dynamodb:GetItem": [f"<{reports_id}.Arn>", f"<{accounts_id}.Arn>"],
        "dynamodb:PutItem": [f"<{reports_id}.Arn>"],
        "dynamodb:UpdateItem": [
            f"<{reports_id}.Arn>",
            f"<{counts_id}.Arn>",
            f"<{accounts_id}.Arn>",
            f"<{keys_id}.Arn>",
        ],
        "dynamodb:Query": [
            f"<{counts_id}.Arn>",
            *(
                f"<{accounts_id}.Arn>/index/{index}"
                for index in (contract.ACCOUNTS_INDEX_BY_ACCOUNT_ID, contract.ACCOUNTS_INDEX_BY_API_KEY_ID)
            ),
        ],
    }
    assert not any(action.startswith(("apigateway:", "firehose:")) for action in grants)
    assert "sqs:ChangeMessageVisibility" in grants  # the backoff
    assert all(
        not resource.endswith("*") or resource.endswith(("/ledger/*", "/evidence/*", "/evidence-days/*"))
        for action, resources in grants.items()
        for resource in resources
        if "sqs" not in resource and not action.startswith("xray:")
    )  # X-Ray has no resource-level permissions


def test_the_account_function_may_list_read_and_compact_evidence_and_write_downloads_never_the_ledger(synth):
    from test_functions import _grants

    grants = _grants(synth, contract.HANDLER_ACCOUNT)
    ledger_id = _one(
        synth,
        "AWS::S3::Bucket",
        lambda p: (
            "LifecycleConfiguration" in p
            and any(rule.get("Prefix") == "ledger/" for rule in p["LifecycleConfiguration"]["Rules"])
        ),
    )[0]

    bucket = f"<{ledger_id}.Arn>"
    assert {action: sorted(grants[action]) for action in grants if action.startswith("s3:")} == {
        "s3:ListBucket": [bucket],
        "s3:GetObject": [f"{bucket}/evidence-days/*", f"{bucket}/evidence-downloads/*", f"{bucket}/evidence/*"],
        "s3:PutObject": [f"{bucket}/evidence-days/*", f"{bucket}/evidence-downloads/*"],
        "s3:DeleteObject": [f"{bucket}/evidence-days/*"],
    }
    assert _listing_condition(synth, contract.HANDLER_ACCOUNT) == {
        "StringLike": {"s3:prefix": ["evidence/*", "evidence-days/*"]}
    }


def _listing_condition(synth, handler: str) -> dict:
    (listing,) = [statement for statement in _statements(synth, handler) if statement["Action"] == "s3:ListBucket"]
    return listing["Condition"]


def _statements(synth, handler: str) -> list[dict]:
    role = _one(synth, "AWS::Lambda::Function", lambda p: p.get("Handler") == handler)[1]["Properties"]["Role"]
    role_id = role["Fn::GetAtt"][0]
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if any(ref.get("Ref") == role_id for ref in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_usage_reports_table_has_the_pending_index_expires_and_is_kept(synth):
    _, table = _reports_table(synth)
    index, by_customer = table["Properties"]["GlobalSecondaryIndexes"]

    assert index["IndexName"] == contract.USAGE_REPORTS_INDEX_PENDING
    assert index["KeySchema"] == [
        {"AttributeName": contract.USAGE_REPORTS_ATTR_PENDING, "KeyType": "HASH"},
        {"AttributeName": contract.USAGE_REPORTS_ATTR_FIRST_ATTEMPT_AT, "KeyType": "RANGE"},
    ]
    # Issue 12: the account page's usage this period, a customer's reports by the time of their latest call.
    assert by_customer["IndexName"] == contract.USAGE_REPORTS_INDEX_BY_CUSTOMER
    assert by_customer["KeySchema"] == [
        {"AttributeName": contract.USAGE_REPORTS_ATTR_CUSTOMER_ID, "KeyType": "HASH"},
        {"AttributeName": contract.USAGE_REPORTS_ATTR_TIMESTAMP, "KeyType": "RANGE"},
    ]
    assert by_customer["Projection"] == {"NonKeyAttributes": ["value"], "ProjectionType": "INCLUDE"}
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": contract.USAGE_REPORTS_TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert table["DeletionPolicy"] == "Retain"


def test_every_function_knows_where_usage_metering_lives(synth):
    """Every business function: the sample backend and the key authorizer (told its keys table only) are none."""
    for function in synth.resources("AWS::Lambda::Function").values():
        handler = function["Properties"]["Handler"]
        if not handler.startswith("tollgate.") or handler in (
            contract.HANDLER_SAMPLE_BACKEND,
            contract.HANDLER_AUTHORIZER,
        ):
            continue
        environment = function["Properties"]["Environment"]["Variables"]
        assert environment[contract.ENV_BILLABLE_STATUSES] == "2xx"
        assert "LedgerBucket" in json.dumps(environment[contract.ENV_USAGE_LEDGER_BUCKET])
        assert "ReportsTable" in json.dumps(environment[contract.ENV_USAGE_REPORTS_TABLE])
        assert "DeadLetters" in resolve_join(environment[contract.ENV_USAGE_DEAD_LETTER_QUEUE_URL])


def test_with_moesif_reporting_usage_the_stack_sends_no_meter_events_but_keeps_the_ledger(synth_custom):
    handlers = {
        function["Properties"]["Handler"] for function in synth_custom.resources("AWS::Lambda::Function").values()
    }

    assert contract.HANDLER_USAGE_REPORTER not in handlers
    assert not synth_custom.resources("AWS::SQS::Queue")
    assert not synth_custom.resources("Custom::S3BucketNotifications")
    assert not synth_custom.resources("AWS::Lambda::EventSourceMapping")
    (stream,) = synth_custom.resources("AWS::KinesisFirehose::DeliveryStream").values()
    assert stream["Properties"]["HttpEndpointDestinationConfiguration"]["S3BackupMode"] == "AllData"
    assert contract.ENV_USAGE_LEDGER_BUCKET not in json.dumps(synth_custom.json)
