"""Serves site/ locally the way CloudFront does: static files, the generated config.json, and the
security headers of the distribution's response-headers policy, both from infra/site_delivery.py
(so a CSP mistake shows up in `make dev` and in the browser tests, not first in production).

`/api/*` (any method) goes to the local API Gateway as CloudFront's `/api/*` behaviour sends it to
the stage (infra/customer_accounts.py): nothing cached, every header (cookies included) but Host
passed on, the viewer's IP in contract.VIEWER_IP_HEADER (whatever the client sent there replaced),
and the answer (Set-Cookie included) back with the same security headers; an API that cannot be
reached gets CloudFront's 502. So the page's session cookie is first party here too, exactly as
behind CloudFront.
"""

from __future__ import annotations

import json
import mimetypes
import urllib.error
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.branding import Branding
from infra.plan_settings import PlanSettings
from infra.site_delivery import CONFIG_OBJECT_KEY, PAGE_ROUTES, SITE_DIR, logo_origin, security_headers, site_config
from localdev.net import BackgroundHttpServer, UnreadableBody, read_request_body
from tollgate import contract

CONFIG_PATH = "/" + CONFIG_OBJECT_KEY

API_TIMEOUT_SECONDS = 30  # CloudFront's default origin read timeout
# What CloudFront answers when it cannot reach the origin: its own HTML error page, not the API's JSON.
ORIGIN_UNREACHABLE_PAGE = (
    b"<html><body><h1>502 Bad Gateway</h1><p>The request could not be satisfied.</p></body></html>\n"
)
# Not passed on (hop by hop, or the origin's own Host as AllViewerExceptHostHeader does), in either direction.
_NOT_FORWARDED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "te",
    "upgrade",
    "proxy-connection",
    contract.VIEWER_IP_HEADER,
}
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def origin_of(url: str) -> str:
    """scheme://host:port of a URL, as browsers compare origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SiteServer(BackgroundHttpServer):
    """`with SiteServer(api_url=..., plans=settings.plans, branding=..., port=0) as site: site.url`."""

    what = "Signup site"

    def __init__(
        self,
        api_url: str,
        plans: tuple[PlanSettings, ...],
        branding: Branding = Branding(),
        port: int = 0,
        site_dir: Path = SITE_DIR,
    ) -> None:
        super().__init__(port)
        self._api_url = api_url.rstrip("/")
        self._config = json.dumps(site_config(api_url, plans, branding, site_dir)).encode()
        self._headers = security_headers(logo_origin(branding, site_dir))
        self._site_dir = site_dir.resolve()

    def _resolve(self, path: str) -> tuple[bytes, str] | None:
        """(body, content type) for a request path, or None when nothing is served there."""
        if path == CONFIG_PATH:
            return self._config, _CONTENT_TYPES[".json"]
        relative = "index.html" if path in ("", "/") else PAGE_ROUTES.get(path, path.lstrip("/"))
        candidate = (self._site_dir / relative).resolve()
        if not candidate.is_relative_to(self._site_dir) or not candidate.is_file():
            return None
        if candidate.name == CONFIG_OBJECT_KEY:  # a stray committed one must never shadow the generated one
            return None
        content_type = _CONTENT_TYPES.get(candidate.suffix) or mimetypes.guess_type(candidate.name)[0]
        return candidate.read_bytes(), content_type or "application/octet-stream"

    def forward_to_api(
        self, method: str, path: str, headers: dict[str, str], body: bytes, viewer_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One `/api/*` request through to the API, as CloudFront's behaviour forwards it."""
        outbound = {name: value for name, value in headers.items() if name.lower() not in _NOT_FORWARDED}
        outbound[contract.VIEWER_IP_HEADER] = viewer_ip
        request = urllib.request.Request(self._api_url + path, data=body or None, method=method, headers=outbound)
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as answer:
                return answer.status, list(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, list(error.headers.items()), error.read()
        except (urllib.error.URLError, OSError):
            # "CloudFront returns an HTTP 502 status code (Bad Gateway) when it could not serve the requested
            # object because it couldn't connect to the origin server" (CloudFront developer guide,
            # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-502-bad-gateway.html).
            return HTTPStatus.BAD_GATEWAY, [("Content-Type", "text/html")], ORIGIN_UNREACHABLE_PAGE

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - counts its handler class's methods
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def version_string(self) -> str:
                return "tollgate-local-site"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                """Quiet: the browser's own devtools show the requests."""

            def do_GET(self) -> None:
                self._serve(include_body=True)

            def do_HEAD(self) -> None:
                self._serve(include_body=False)

            def _api_only(self) -> None:
                if not self._api():
                    self._answer(HTTPStatus.METHOD_NOT_ALLOWED, b"Method not allowed\n", "text/plain; charset=utf-8")

            do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _api_only  # noqa: N815 - http.server dispatches by these names

            def _api(self) -> bool:
                """Forward an `/api/*` request (True), or leave the request to the static site (False)."""
                if not urlsplit(self.path).path.startswith(contract.SITE_API_PREFIX):
                    return False
                try:
                    body = read_request_body(self, API_TIMEOUT_SECONDS)
                except UnreadableBody:
                    self.close_connection = True
                    return True
                status, headers, answer = site.forward_to_api(
                    self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
                )
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _NOT_FORWARDED and name not in site._headers:
                        self.send_header(name, value)
                for name, value in site._headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer)
                return True

            def _answer(self, status: HTTPStatus, body: bytes, content_type: str, include_body: bool = True) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                for name, value in site._headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if include_body:
                    self.wfile.write(body)

            def _serve(self, include_body: bool) -> None:
                if self._api():
                    return
                found = site._resolve(urlsplit(self.path).path)
                status, (body, content_type) = (
                    (HTTPStatus.OK, found)
                    if found
                    else (HTTPStatus.NOT_FOUND, (b"Not found\n", "text/plain; charset=utf-8"))
                )
                self._answer(status, body, content_type, include_body)

        return Handler
