"""localdev/stripe_bridge/core.py: what every surface shares, seen from a client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import stripe


def test_a_url_neither_the_bridge_nor_localstripe_serves_gets_stripes_404(stripe_client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.billing.alerts.retrieve("alrt_x")  # Tollgate never reads a billing alert: not emulated
    assert raised.value.http_status == 404
    assert "Unrecognized request URL (GET: /v1/billing/alerts/alrt_x)" in str(raised.value)


def test_bridge_served_routes_need_a_secret_key(stripe_api: str):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stripe_api}/v1/prices", timeout=5)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["error"]["type"] == "invalid_request_error"
