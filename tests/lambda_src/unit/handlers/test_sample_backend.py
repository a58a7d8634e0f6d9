import json

import pytest

from tollgate.handlers.sample_backend import handler


def _proxy_event(method: str, path: str, api_key_id: str | None) -> dict:
    identity = {"apiKeyId": api_key_id, "apiKey": "the-secret-key-value", "sourceIp": "203.0.113.9"}
    return {"httpMethod": method, "path": path, "requestContext": {"identity": identity}}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/"), ("POST", "/orders/42"), ("DELETE", "/a/b/c"), ("PATCH", "/x")]
)
def test_echoes_method_path_and_api_key_id_for_any_route(method, path):
    response = handler(_proxy_event(method, path, "k1a2b3"))

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"method": method, "path": path, "apiKeyId": "k1a2b3"}


def test_never_echoes_the_api_key_value():
    response = handler(_proxy_event("GET", "/", "k1a2b3"))

    assert "the-secret-key-value" not in response["body"]


def test_answers_with_null_key_id_when_the_request_carries_no_identity():
    response = handler({"httpMethod": "GET", "path": "/health"})

    assert json.loads(response["body"]) == {"method": "GET", "path": "/health", "apiKeyId": None}
