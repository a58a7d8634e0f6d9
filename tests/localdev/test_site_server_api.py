"""localdev/site_server.py's `/api/*` (issue 12): forwarded to the API as CloudFront's behaviour
forwards it (every method, headers and cookies but Host, the viewer's IP in its own header whatever
the client sent there), answered back with Set-Cookie and the site's security headers."""

from __future__ import annotations

import json
import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from infra.site_delivery import SITE_DIR, security_headers
from localdev.net import AnyMethodHttpServer, read_request_body
from localdev.site_server import SiteServer
from testkit.dev_stack import cdk_json_plans
from tollgate import contract


class EchoApi(AnyMethodHttpServer):
    """Answers every request with what it received, and a cookie."""

    what = "echo API"

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        body = json.dumps(
            {
                "method": http.command,
                "path": http.path,
                "headers": {name.lower(): value for name, value in http.headers.items()},
                "body": read_request_body(http, 5).decode(),
            }
        ).encode()
        http.send_response(418)
        http.send_header("Content-Type", "application/json")
        http.send_header("Set-Cookie", "__Host-x=1; Path=/; Secure; HttpOnly; SameSite=Strict")
        http.send_header("Content-Length", str(len(body)))
        http.end_headers()
        http.wfile.write(body)


@pytest.fixture
def site():
    with EchoApi() as api, SiteServer(api.url, plans=cdk_json_plans()) as served:
        yield served, api


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_api_requests_reach_the_api_with_the_viewers_ip_and_come_back_whole(site, method: str) -> None:
    served, api = site
    request = urllib.request.Request(
        f"{served.url}/api/account?x=1",
        method=method,
        data=b'{"a": 1}' if method == "POST" else None,
        headers={
            "Cookie": "__Host-tollgate-session=abc",
            "Content-Type": "application/json",
            contract.VIEWER_IP_HEADER: "198.51.100.7",
        },
    )
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        status, headers, received = error.code, error.headers, json.loads(error.read())

    assert status == 418 and received["method"] == method and received["path"] == "/api/account?x=1"
    assert received["headers"]["cookie"] == "__Host-tollgate-session=abc"
    assert received["headers"][contract.VIEWER_IP_HEADER] == "127.0.0.1"  # the forged one replaced
    assert received["headers"]["host"] == api.url.removeprefix("http://")  # the API's own, not the site's
    assert received["body"] == ('{"a": 1}' if method == "POST" else "")
    assert headers["Set-Cookie"] == "__Host-x=1; Path=/; Secure; HttpOnly; SameSite=Strict"
    for name, value in security_headers().items():
        assert headers[name] == value


def test_an_api_that_cannot_be_reached_gets_cloudfronts_502_with_the_sites_headers() -> None:
    with EchoApi() as stopped:
        unreachable = stopped.url  # a port nothing listens on any more
    with SiteServer(unreachable, plans=cdk_json_plans()) as served:
        request = urllib.request.Request(f"{served.url}{contract.ROUTE_SITE_REGISTER}", method="POST", data=b"{}")
        with pytest.raises(urllib.error.HTTPError) as answered:
            urllib.request.urlopen(request, timeout=10)
    assert answered.value.code == 502
    assert answered.value.headers["Content-Security-Policy"] == security_headers()["Content-Security-Policy"]


def test_other_paths_stay_static_and_refuse_other_methods(site) -> None:
    served, _ = site
    request = urllib.request.Request(f"{served.url}/index.html", method="POST", data=b"{}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


def test_the_account_page_is_served_at_its_address_as_cloudfront_serves_it(site) -> None:
    served, _ = site
    with urllib.request.urlopen(f"{served.url}/{contract.ACCOUNT_PAGE}", timeout=10) as answer:
        body, content_type = answer.read(), answer.headers["Content-Type"]
    assert body == (SITE_DIR / contract.ACCOUNT_PAGE_FILE).read_bytes() and content_type.startswith("text/html")
