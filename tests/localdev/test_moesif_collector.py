"""The Moesif collector (localdev/moesif_collector.py): what the moesifapi SDK and Firehose send,
recorded with path, headers and body, listable over HTTP and from Python.

Each test gets its own collector (the session one is shared with background senders)."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moesifapi.configuration import Configuration
from moesifapi.exceptions.api_exception import APIException
from moesifapi.models import CompanyModel, UserModel
from moesifapi.moesif_api_client import MoesifAPIClient

from localdev.emulators import MoesifCollector, MotoServer

APP_ID = "moesif-test-app-id"
MOESIF_FIREHOSE_PATH = "/v1/partners/aws/kinesis/events"  # the path cdk.json's moesif_collector_url ends with


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def firehose_body(lines: list[str], request_id: str) -> bytes:
    records = [{"data": base64.b64encode(line.encode()).decode()} for line in lines]
    return json.dumps({"requestId": request_id, "timestamp": 1_700_000_000_000, "records": records}).encode()


@pytest.fixture
def collector() -> Iterator[MoesifCollector]:
    """A collector of this test's own: nothing another test sends (late) can land in it."""
    with MoesifCollector() as collector:
        yield collector


@pytest.fixture
def moesif_api(collector: MoesifCollector, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real moesifapi SDK pointed at the collector (its base URL is a process-wide class attribute)."""
    monkeypatch.setattr(Configuration, "BASE_URI", collector.base_url)
    return MoesifAPIClient(APP_ID).api


def test_sdk_user_and_company_updates_are_recorded_with_path_headers_and_body(
    moesif_api: Any, collector: MoesifCollector
):
    moesif_api.update_company(CompanyModel(company_id="sub_123", metadata={"plan": "metered"}))
    moesif_api.update_user(UserModel(user_id="key-id-1", company_id="sub_123", metadata={"email": "a@example.com"}))

    assert [c["company_id"] for c in collector.companies()] == ["sub_123"]
    [user] = collector.users()
    assert user["user_id"] == "key-id-1" and user["company_id"] == "sub_123"
    assert user["metadata"] == {"email": "a@example.com"}
    paths = [r.path for r in collector.requests()]
    assert paths == ["/v1/companies", "/v1/users"]
    assert all(r.header("x-moesif-application-id") == APP_ID for r in collector.requests())


def test_planned_failure_hits_only_the_chosen_path_and_only_once(moesif_api: Any, collector: MoesifCollector):
    """moesifapi 1.5.5 does not retry a POST on 5xx (urllib3's Retry skips POST): the caller must."""
    collector.fail_next(503, path_prefix="/v1/users")

    moesif_api.update_company(CompanyModel(company_id="sub_ok"))
    with pytest.raises(APIException) as raised:
        moesif_api.update_user(UserModel(user_id="key-id-2"))
    moesif_api.update_user(UserModel(user_id="key-id-2"))

    assert raised.value.response_code == 503
    assert [u["user_id"] for u in collector.users()] == ["key-id-2"]
    assert [r.path for r in collector.requests()] == ["/v1/companies", "/v1/users", "/v1/users"]


def test_batch_endpoints_record_every_item(collector: MoesifCollector):
    headers = {"X-Moesif-Application-Id": APP_ID}
    for kind, items in (
        ("users", [{"user_id": "a"}, {"user_id": "b"}]),
        ("companies", [{"company_id": "c"}]),
        ("events", [{"request": {"uri": "/x"}}, {"request": {"uri": "/y"}}]),
    ):
        assert post(f"{collector.base_url}/v1/{kind}/batch", json.dumps(items).encode(), headers)[0] == 201

    assert [u["user_id"] for u in collector.users()] == ["a", "b"]
    assert [c["company_id"] for c in collector.companies()] == ["c"]
    assert [e["request"]["uri"] for e in collector.events()] == ["/x", "/y"]


def test_moesif_api_without_application_id_is_refused(collector: MoesifCollector):
    status, body = post(f"{collector.base_url}/v1/users", b'{"user_id": "x"}', {})

    assert status == 401 and "X-Moesif-Application-Id" in body["error"]
    assert collector.users() == []


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_firehose_delivery_is_answered_in_firehose_format_and_decoded(collector: MoesifCollector, gzipped: bool):
    request_id = str(uuid.uuid4())
    lines = [
        json.dumps({"requestId": "r1", "user": "key-id-1", "status": "200"}),
        json.dumps({"requestId": "r2", "user": "key-id-1", "status": "403"}),
    ]
    body = firehose_body(lines, request_id)
    headers = {
        "X-Amz-Firehose-Request-Id": request_id,
        "X-Amz-Firehose-Access-Key": APP_ID,
        "X-Amz-Firehose-Protocol-Version": "1.0",
    }
    if gzipped:
        body, headers = gzip.compress(body), {**headers, "Content-Encoding": "gzip"}

    status, answer = post(collector.base_url + MOESIF_FIREHOSE_PATH, body, headers)

    assert status == 200
    assert answer["requestId"] == request_id and isinstance(answer["timestamp"], int)
    assert [(e["requestId"], e["status"]) for e in collector.events()] == [("r1", "200"), ("r2", "403")]
    [received] = collector.requests()
    assert received.path == MOESIF_FIREHOSE_PATH and received.header("X-Amz-Firehose-Access-Key") == APP_ID


def test_firehose_record_that_is_not_base64_json_is_a_400_with_error_message(collector: MoesifCollector):
    body = json.dumps({"requestId": "req-1", "timestamp": 1, "records": [{"data": "not base64!"}]}).encode()

    status, answer = post(collector.firehose_url, body, {})

    assert status == 400 and answer["requestId"] == "req-1" and answer["errorMessage"]
    assert collector.events() == []


def test_post_that_is_neither_moesif_nor_firehose_is_404_but_recorded(collector: MoesifCollector):
    status, _ = post(f"{collector.base_url}/somewhere", b'{"hello": 1}', {})

    assert status == 404
    assert [r.body for r in collector.requests()] == [{"hello": 1}]


def test_http_listing_and_reset(collector: MoesifCollector):
    post(f"{collector.base_url}/v1/users", b'{"user_id": "u1"}', {"X-Moesif-Application-Id": APP_ID})
    post(collector.firehose_url, firehose_body(['{"user": "u1"}'], "r"), {})

    assert get_json(f"{collector.base_url}/_collector/users") == [{"user_id": "u1"}]
    assert get_json(f"{collector.base_url}/_collector/events") == [{"user": "u1"}]
    assert get_json(f"{collector.base_url}/_collector/companies") == []
    assert [r["path"] for r in get_json(f"{collector.base_url}/_collector/requests")] == ["/v1/users", "/firehose"]

    with urllib.request.urlopen(urllib.request.Request(f"{collector.base_url}/_collector", method="DELETE")) as r:
        assert r.status == 204
    assert collector.users() == collector.events() == collector.requests() == []


def test_moto_firehose_http_destination_delivers_to_the_collector(moto_server: MotoServer, collector: MoesifCollector):
    """The real path: Firehose (moto) posts access-log records to the collector's HTTP endpoint."""
    firehose = boto3.client(
        "firehose",
        endpoint_url=moto_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"amazon-apigateway-tollgate-{uuid.uuid4().hex[:8]}"
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {
                "Url": collector.base_url + MOESIF_FIREHOSE_PATH,
                "Name": "Moesif",
                "AccessKey": APP_ID,
            },
            "S3Configuration": {
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": "arn:aws:s3:::backup",
            },
        },
    )

    firehose.put_record(DeliveryStreamName=name, Record={"Data": b'{"requestId": "abc", "user": "key-id-9"}\n'})

    assert collector.events() == [{"requestId": "abc", "user": "key-id-9"}]
    assert collector.requests()[0].path == MOESIF_FIREHOSE_PATH
