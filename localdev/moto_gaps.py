"""TEST/DEV INFRASTRUCTURE ONLY: what moto 5.2.5 lacks of AWS that Tollgate relies on.

`fill_api_key_gaps()` applies both fillers below (in-process by testkit.moto_stack, and in `make
dev`'s moto server, localdev/emulators.py).

Deleting an API key in API Gateway takes it out of every usage plan (a usage plan key is the key
itself; GetUsagePlanKeys never lists a deleted one). moto keeps it listed in the plans, so a
gateway asking the plan for its keys would trip over a key that no longer exists:
`remove_deleted_keys_from_plans()` makes DeleteApiKey take it out of the plans too.

API Gateway tags an API key like any of its resources: TagResource, GetTags and UntagResource on
`arn:<partition>:apigateway:<region>::/apikeys/<id>` (API Gateway API reference, "TagResource";
the key carries them in `tags`, as GetApiKey shows). moto's handlers for those three know stage
ARNs only. `add_api_key_tagging()` routes an API-key ARN to the key's own `tags` and leaves every
other ARN to moto.

DeleteUsagePlanKey of a key that is not in the plan raises a KeyError in moto (a 500) where API
Gateway answers NotFoundException: `refuse_removing_a_key_not_in_the_plan()`.

GetUsage is missing from moto altogether. `answer_usage_plan_usage(counters)` adds it to moto's
API Gateway, answered from localdev.usage_plan_usage.UsageCounters, for the in-process tests
(testkit.moto_stack), where no gateway runs: a key shows the calls the test counted. `make dev`
answers it in front of moto instead (localdev.usage_plan_usage.UsagePlanUsageProxy, whose counter
the local gateway fills); both use the same answers. Nothing in lambda_src/ or infra/ imports this module.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from localdev.usage_plan_usage import UsageCounters, get_usage

_GET_USAGE = "{0}/usageplans/(?P<usage_plan_id>[^/]+)/usage$"
_API_KEY_ARN = re.compile(r"^arn:[a-z-]+:apigateway:[a-z0-9-]+::/apikeys/(?P<key_id>[^/]+)$")


_usage_counters: list[UsageCounters] = []  # the counters answer_usage_plan_usage was last given


def answer_usage_plan_usage(counters: UsageCounters) -> None:
    """GetUsage in moto's API Gateway, from `counters` (one per usage plan; the latest
    ones given answer).
    Takes effect for mocks and servers started afterwards."""
    import moto.apigateway.urls as urls

    _usage_counters[:] = [counters]
    if _GET_USAGE in urls.url_paths:
        return

    def answer_get_usage(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        plan_id = urlsplit(full_url).path.strip("/").split("/")[1]
        return get_usage(_usage_counters[0][plan_id], plan_id, parse_qs(urlsplit(full_url).query))

    urls.url_paths[_GET_USAGE] = answer_get_usage


def fill_api_key_gaps() -> None:
    """Every filler (idempotent)."""
    add_api_key_tagging()
    remove_deleted_keys_from_plans()
    refuse_removing_a_key_not_in_the_plan()


def refuse_removing_a_key_not_in_the_plan() -> None:
    """Make moto's DeleteUsagePlanKey answer a key that is not in the plan as API Gateway does, with
    NotFoundException (moto raises a KeyError: a 500). Moving a key to another plan removes it from
    every plan it is not to be in (tollgate.domain.plan_changes.move_keys). Idempotent."""
    from moto.apigateway.exceptions import NotFoundException
    from moto.apigateway.models import APIGatewayBackend

    if getattr(APIGatewayBackend, "refuses_absent_plan_keys", False):
        return
    delete_usage_plan_key = APIGatewayBackend.delete_usage_plan_key

    def delete_or_not_found(self: Any, usage_plan_id: str, key_id: str) -> None:
        if key_id not in self.usage_plan_keys.get(usage_plan_id, {}):
            raise NotFoundException("Invalid Usage Plan Key identifier specified")
        delete_usage_plan_key(self, usage_plan_id, key_id)

    APIGatewayBackend.delete_usage_plan_key = delete_or_not_found
    APIGatewayBackend.refuses_absent_plan_keys = True


def remove_deleted_keys_from_plans() -> None:
    """Make moto's DeleteApiKey remove the key from every usage plan (idempotent)."""
    from moto.apigateway.models import APIGatewayBackend

    if getattr(APIGatewayBackend, "deletes_keys_from_plans", False):
        return
    delete_api_key = APIGatewayBackend.delete_api_key

    def delete_from_plans_too(self: Any, api_key_id: str) -> None:
        delete_api_key(self, api_key_id)
        for plan_keys in self.usage_plan_keys.values():
            plan_keys.pop(api_key_id, None)

    APIGatewayBackend.delete_api_key = delete_from_plans_too
    APIGatewayBackend.deletes_keys_from_plans = True


def add_api_key_tagging() -> None:
    """Teach moto's API Gateway to tag API keys (idempotent: a second call changes nothing)."""
    from moto.apigateway.responses import APIGatewayResponse

    if getattr(APIGatewayResponse, "tags_api_keys", False):
        return
    stage_tag, stage_get, stage_untag = (
        APIGatewayResponse.tag_resource,
        APIGatewayResponse.get_tags,
        APIGatewayResponse.untag_resource,
    )

    def api_key_of(response: Any) -> Any:
        match = _API_KEY_ARN.match(unquote(response.path.split("/tags/", 1)[1]))
        return response.backend.get_api_key(match["key_id"]) if match else None  # NotFoundException if gone

    def tag_resource(self: Any) -> str:
        key = api_key_of(self)
        if key is None:
            return stage_tag(self)
        key.tags = {**(key.tags or {}), **(self._get_param("tags") or {})}
        return json.dumps({})

    def get_tags(self: Any) -> str:
        key = api_key_of(self)
        return stage_get(self) if key is None else json.dumps({"tags": key.tags or {}})

    def untag_resource(self: Any) -> str:
        key = api_key_of(self)
        if key is None:
            return stage_untag(self)
        removed = set(self.querystring.get("tagKeys") or [])
        key.tags = {name: value for name, value in (key.tags or {}).items() if name not in removed}
        return json.dumps({})

    APIGatewayResponse.tag_resource = tag_resource
    APIGatewayResponse.get_tags = get_tags
    APIGatewayResponse.untag_resource = untag_resource
    APIGatewayResponse.tags_api_keys = True
