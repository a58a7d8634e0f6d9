"""Gap 6: localstripe has no `/v1/customers/search`.

Answered from localstripe's customer list with the subset of Stripe's search query language
(https://docs.stripe.com/search#search-query-language) used here: `field:'value'` and
`metadata['key']:'value'` clauses joined with AND. A query outside that subset is refused with a
message saying so, rather than answered wrongly.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from localdev.stripe_bridge.core import (
    Route,
    StripeError,
    Upstream,
    api_key,
    as_int,
    reject_unknown,
    request_params,
    require,
)

_CLAUSE = re.compile(
    r"""\s*(?P<field>metadata\[['"](?P<key>[^'"]+)['"]\]|[a-z_]+)\s*:\s*['"](?P<value>[^'"]*)['"]\s*"""
)


def _parse_query(query: str) -> list[tuple[tuple[str, ...], str]]:
    """[(path into the object, wanted value)] for each clause."""
    conditions: list[tuple[tuple[str, ...], str]] = []
    for clause in re.split(r"\s+AND\s+", query.strip()):
        match = _CLAUSE.fullmatch(clause)
        if not match:
            raise StripeError(
                400, f"The bridge understands `field:'value'` clauses joined by AND, not: {clause}", param="query"
            )
        path: tuple[str, ...] = ("metadata", match["key"]) if match["key"] else (match["field"],)
        conditions.append((path, match["value"]))
    return conditions


def _matches(obj: dict[str, Any], path: tuple[str, ...], value: str) -> bool:
    current: Any = obj
    for part in path:
        current = current.get(part) if isinstance(current, dict) else None
    return current is not None and str(current) == value


class CustomerSearch:
    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream

    def routes(self) -> list[Route]:
        return [("GET", "/v1/customers/search", self.search)]

    async def search(self, request: web.Request) -> web.Response:
        params = await request_params(request)
        reject_unknown(params, ("query", "limit"))
        conditions = _parse_query(require(params, "query"))
        found = [
            customer
            for customer in await self._all_customers(api_key(request))
            if all(_matches(customer, path, value) for path, value in conditions)
        ]
        limit = as_int(params.get("limit"), "limit") or 10
        return web.json_response(
            {
                "object": "search_result",
                "url": "/v1/customers/search",
                "has_more": len(found) > limit,
                "next_page": None,
                "data": found[:limit],
            }
        )

    async def _all_customers(self, key: str) -> list[dict[str, Any]]:
        customers: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = await self._upstream.call("GET", "/v1/customers", key, params)
            customers.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return customers
            params["starting_after"] = page["data"][-1]["id"]
