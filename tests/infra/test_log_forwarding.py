"""Issue 3, point 2: access logs in Moesif's format -> Firehose -> Moesif."""

import json

from aws_cdk.assertions import Capture, Match

from infra import access_log


def test_stage_writes_the_moesif_access_log_format_to_the_firehose_stream(synth):
    destination = Capture()
    log_format = Capture()
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage", {"AccessLogSetting": {"DestinationArn": destination, "Format": log_format}}
    )
    (stream_id,) = synth.resources("AWS::KinesisFirehose::DeliveryStream")

    assert destination.as_object() == {"Fn::GetAtt": [stream_id, "Arn"]}
    fields = json.loads(log_format.as_string())
    assert fields == json.loads(access_log.format_string())
    assert fields["user"] == "$context.authorizer.principalId"  # the account the key authorizer resolved
    assert "$context.identity.apiKey" not in fields.values()


def test_firehose_stream_name_starts_with_the_prefix_api_gateway_requires(synth):
    (stream,) = synth.resources("AWS::KinesisFirehose::DeliveryStream").values()

    assert stream["Properties"]["DeliveryStreamName"].startswith("amazon-apigateway-")


def test_firehose_posts_gzip_to_the_moesif_collector_with_the_app_id_from_the_moesif_secret(synth):
    _, secret_id = synth.secret_ids()
    synth.template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "HttpEndpointDestinationConfiguration": Match.object_like(
                {
                    "EndpointConfiguration": {"Name": "Moesif", "Url": synth.settings.moesif_collector_url},
                    "SecretsManagerConfiguration": Match.object_like(
                        {"Enabled": True, "SecretARN": {"Ref": secret_id}}
                    ),
                    "RequestConfiguration": {"ContentEncoding": "GZIP"},
                    "BufferingHints": Match.object_like({"IntervalInSeconds": Match.any_value()}),
                    "S3BackupMode": "AllData",
                    "CloudWatchLoggingOptions": Match.object_like({"Enabled": True}),
                }
            )
        },
    )
    endpoint = json.dumps(synth.resources("AWS::KinesisFirehose::DeliveryStream"))
    assert "AccessKey" not in endpoint


def test_every_record_is_also_kept_in_an_encrypted_private_retained_ledger_bucket(synth):
    (stream,) = synth.resources("AWS::KinesisFirehose::DeliveryStream").values()
    bucket_id = stream["Properties"]["HttpEndpointDestinationConfiguration"]["S3Configuration"]["BucketARN"][
        "Fn::GetAtt"
    ][0]
    bucket = synth.resources("AWS::S3::Bucket")[bucket_id]

    encryption = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert bucket["DeletionPolicy"] == "Retain"  # the evidence behind every invoice outlives the stack
    rules = {
        rule["Prefix"]: rule["ExpirationInDays"] for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    assert rules == {
        "ledger/": synth.settings.usage_ledger_retention_days,
        "failed/": 30,
        # the evidence behind each invoice as long as the ledger; a period's download a day
        "evidence/": synth.settings.usage_ledger_retention_days,
        "evidence-downloads/": 1,
        "evidence-days/": synth.settings.usage_ledger_retention_days,
    }
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


def test_firehose_delivery_errors_are_logged_with_a_retention(synth):
    (stream,) = synth.resources("AWS::KinesisFirehose::DeliveryStream").values()
    group_id = stream["Properties"]["HttpEndpointDestinationConfiguration"]["CloudWatchLoggingOptions"]["LogGroupName"][
        "Ref"
    ]

    assert synth.resources("AWS::Logs::LogGroup")[group_id]["Properties"]["RetentionInDays"] == 30


def test_firehose_role_may_read_the_moesif_secret_and_nothing_else_of_secrets_manager(synth):
    _, secret_id = synth.secret_ids()
    (stream,) = synth.resources("AWS::KinesisFirehose::DeliveryStream").values()
    secrets = stream["Properties"]["HttpEndpointDestinationConfiguration"]["SecretsManagerConfiguration"]
    role_id = secrets["RoleARN"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    secret_statements = [s for s in statements if any(a.startswith("secretsmanager:") for a in s["Action"])]

    assert [s["Resource"] for s in secret_statements] == [{"Ref": secret_id}]
    assert "secretsmanager:GetSecretValue" in secret_statements[0]["Action"]
