"""ApiKeys on API Gateway: keys and the usage plans that throttle them (one per Tollgate plan).

Every key is created with this deployment's owner tag (contract.API_KEY_OWNER_TAG): the functions'
IAM lets them touch only keys that carry it, and listing (orphan search) keeps only those."""

from __future__ import annotations

from typing import Any

from tollgate import contract
from tollgate.adapters.aws_clients import NOT_FOUND, answer, call_aws, refuse
from tollgate.domain.errors import KeyNotFound
from tollgate.domain.models import IssuedKey, ListedKey
from tollgate.domain.ports.keys import ApiKeys

_SERVICE = "API Gateway"
_GONE = NOT_FOUND  # deleting, detaching or disabling twice is not an error
_ALREADY_THERE = frozenset({"ConflictException"})  # a retried attach that had gone through
KEYS_PER_PAGE = 500  # GetApiKeys' largest page: 10,000 keys take 20 calls


class ApiGatewayKeys(ApiKeys):
    """API keys through a boto3 `apigateway` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, owner: str):
        self._client = client
        self._owner = owner

    def create_key(self, name: str, description: str) -> IssuedKey:
        created = self._call(
            "create API key",
            self._client.create_api_key,
            name=name,
            description=description,
            enabled=True,
            tags={contract.API_KEY_OWNER_TAG: self._owner},
        )
        return IssuedKey(id=created["id"], value=created["value"])

    def delete_key(self, key_id: str) -> None:
        self._call("delete API key", self._client.delete_api_key, tolerated=_GONE, apiKey=key_id)

    def attach_to_plan(self, key_id: str, usage_plan_id: str) -> None:
        self._call(
            "add key to usage plan",
            self._client.create_usage_plan_key,
            tolerated=_ALREADY_THERE,
            missing_key=key_id,
            usagePlanId=usage_plan_id,
            keyId=key_id,
            keyType="API_KEY",
        )

    def detach_from_plan(self, key_id: str, usage_plan_id: str) -> None:
        self._call(
            "remove key from usage plan",
            self._client.delete_usage_plan_key,
            tolerated=_GONE,
            usagePlanId=usage_plan_id,
            keyId=key_id,
        )

    def set_enabled(self, key_id: str, enabled: bool) -> None:
        self._call(
            "enable API key" if enabled else "disable API key",
            self._client.update_api_key,
            # A key that is gone is disabled for good; enabling one is KeyNotFound (UpdateApiKey answers
            # NotFoundException for both, https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateApiKey.html).
            tolerated=frozenset() if enabled else _GONE,
            missing_key=key_id if enabled else None,
            apiKey=key_id,
            patchOperations=[{"op": "replace", "path": "/enabled", "value": str(enabled).lower()}],
        )

    def key_value(self, key_id: str) -> str:
        value: str = self._call(
            "read API key", self._client.get_api_key, apiKey=key_id, includeValue=True, missing_key=key_id
        )["value"]
        return value

    def keys_named(self, prefix: str) -> list[ListedKey]:
        def all_pages() -> list[dict[str, Any]]:
            pages = self._client.get_paginator("get_api_keys").paginate(nameQuery=prefix, includeValues=False)
            return [item for page in pages for item in page.get("items", [])]

        return [
            ListedKey(id=item["id"], name=item["name"], created_at=int(item["createdDate"].timestamp()))
            for item in self._call("list API keys", all_pages)
            if item.get("name", "").startswith(prefix)  # nameQuery's matching is not documented as a prefix match
            and (item.get("tags") or {}).get(contract.API_KEY_OWNER_TAG) == self._owner  # never another deployment's
        ]

    def count_in_region(self) -> int:
        def all_pages() -> int:
            pages = self._client.get_paginator("get_api_keys").paginate(
                includeValues=False, PaginationConfig={"PageSize": KEYS_PER_PAGE}
            )
            return sum(len(page.get("items", [])) for page in pages)

        count: int = self._call("count API keys", all_pages)
        return count

    @staticmethod
    def _call(
        action: str,
        operation: Any,
        *,
        tolerated: frozenset[str] = frozenset(),
        missing_key: str | None = None,
        **parameters: Any,
    ) -> Any:
        """`operation`'s answer; None for a tolerated error code; KeyNotFound for `missing_key` gone."""
        expected = {code: answer(None) for code in tolerated}
        if missing_key is not None:
            expected.update({code: refuse(KeyNotFound(missing_key)) for code in _GONE})
        return call_aws(_SERVICE, action, operation, expected=expected, **parameters)
