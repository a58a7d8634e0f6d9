"""The sample backend as the stage calls it over HTTPS (Lambda function URL events): it refuses any
call without the gateway's secret header, accepts the current and the previous value during a
rotation, and echoes method, path and the caller's key id, never a key value."""

import json

import pytest
from botocore.exceptions import ClientError

from tollgate import contract
from tollgate.adapters.origin_secret import OriginSecret
from tollgate.handlers import sample_backend

CURRENT, PREVIOUS = "current-value-7Hq2", "previous-value-Kx9p"


class SecretVersions:
    """A `secretsmanager` client holding one plain-string secret by version stage."""

    def __init__(self, **stages: str) -> None:
        self.stages = stages
        self.reads = 0

    def get_secret_value(self, SecretId: str, VersionStage: str) -> dict:  # noqa: N803 - boto3's names
        self.reads += 1
        if VersionStage not in self.stages:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue")
        return {"SecretString": self.stages[VersionStage]}


@pytest.fixture
def secret(monkeypatch) -> SecretVersions:
    versions = SecretVersions(AWSCURRENT=CURRENT)
    monkeypatch.setattr(sample_backend, "origin_secret", lambda: OriginSecret(versions, "arn:backend-secret"))
    return versions


def url_event(method: str, path: str, headers: dict[str, str]) -> dict:
    return {
        "version": "2.0",
        "rawPath": path,
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": path}},
    }


def through_the_gateway(api_key_id: str | None = "k1a2b3", value: str = CURRENT) -> dict[str, str]:
    headers = {contract.BACKEND_SECRET_HEADER: value, contract.BACKEND_ACCOUNT_ID_HEADER: "acct_1"}
    return headers | ({contract.BACKEND_API_KEY_ID_HEADER: api_key_id} if api_key_id else {})


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("POST", "/orders/42"), ("DELETE", "/a/b/c")])
def test_echoes_method_path_account_and_api_key_id_for_any_route(secret, method, path):
    response = sample_backend.handler(url_event(method, path, through_the_gateway()))

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"method": method, "path": path, "accountId": "acct_1", "apiKeyId": "k1a2b3"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {contract.BACKEND_SECRET_HEADER: ""},
        {contract.BACKEND_SECRET_HEADER: CURRENT + "x"},
        {"x-api-key": "a-valid-looking-key"},
    ],
    ids=["no-header", "empty", "wrong-value", "only-an-api-key"],
)
def test_a_call_that_did_not_come_through_the_gateway_is_forbidden(secret, headers):
    response = sample_backend.handler(url_event("GET", "/orders", headers))

    assert response["statusCode"] == 403 and "through its gateway" in json.loads(response["body"])["error"]


def test_during_a_rotation_the_previous_value_is_accepted_too(secret):
    secret.stages.update(AWSCURRENT="rotated-value-Zp4s", AWSPREVIOUS=CURRENT)

    for value in ("rotated-value-Zp4s", CURRENT):
        assert sample_backend.handler(url_event("GET", "/", through_the_gateway(value=value)))["statusCode"] == 200


def test_a_new_value_is_accepted_without_waiting_for_the_cache_and_a_flood_of_wrong_ones_reads_little(monkeypatch):
    versions, now = SecretVersions(AWSCURRENT=CURRENT), [0.0]
    checker = OriginSecret(versions, "arn:backend-secret", clock=lambda: now[0])
    assert checker.accepts(CURRENT)
    versions.stages.update(AWSCURRENT="rotated-value-Zp4s", AWSPREVIOUS=CURRENT)
    now[0] += 11

    assert checker.accepts("rotated-value-Zp4s")
    reads = versions.reads
    for _ in range(50):
        assert not checker.accepts("wrong")
    assert versions.reads == reads  # within 10 s of the last read: no more reads


def test_never_echoes_the_api_key_value(secret):
    headers = through_the_gateway() | {"x-api-key": "the-secret-key-value"}

    assert "the-secret-key-value" not in sample_backend.handler(url_event("GET", "/", headers))["body"]


def test_answers_with_null_key_id_when_the_gateway_sent_none(secret):
    response = sample_backend.handler(url_event("GET", "/health", through_the_gateway(api_key_id=None)))

    assert json.loads(response["body"]) == {"method": "GET", "path": "/health", "accountId": "acct_1", "apiKeyId": None}
