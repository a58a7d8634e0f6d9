"""localdev/firehose.py's S3 backup: the usage ledger written as Firehose writes it."""

from __future__ import annotations

import gzip
import re
import uuid

import pytest

from localdev.bootstrap import aws_client
from localdev.firehose import LedgerBackup
from tollgate import contract


@pytest.fixture
def s3(emulators):
    return aws_client("s3", emulators)


def test_the_ledger_gets_one_gzip_object_per_flush_in_the_hour_folder(s3):
    bucket = f"ledger-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    backup = LedgerBackup(s3, bucket, "amazon-apigateway-tollgate-dev-prod")

    backup.put('{"requestId": "1"}')
    backup.put('{"requestId": "2"}')
    key = backup.flush()

    assert backup.flush() is None  # nothing new: no empty object
    assert re.fullmatch(
        rf"{contract.USAGE_LEDGER_PREFIX}\d{{4}}/\d\d/\d\d/\d\d/amazon-apigateway-tollgate-dev-prod-1-"
        r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}\.gz",
        key,
    )
    body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    assert body == '{"requestId": "1"}\n{"requestId": "2"}\n'


def test_records_are_kept_for_the_next_flush_when_s3_refuses_them(s3):
    bucket = f"ledger-{uuid.uuid4().hex[:8]}"
    backup = LedgerBackup(s3, bucket, "stream")
    backup.put('{"requestId": "1"}')
    with pytest.raises(Exception, match="NoSuchBucket"):
        backup.flush()

    s3.create_bucket(Bucket=bucket)
    backup.put('{"requestId": "2"}')
    key = backup.flush()

    body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    assert body == '{"requestId": "1"}\n{"requestId": "2"}\n'
