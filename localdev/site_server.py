"""Serves site/ locally the way CloudFront does: static files, the generated config.json, and the
security headers of the distribution's response-headers policy, both from infra/site_delivery.py
(so a CSP mistake shows up in `make dev` and in the browser tests, not first in production).
"""

from __future__ import annotations

import json
import mimetypes
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.site_delivery import CONFIG_OBJECT_KEY, SITE_DIR, security_headers, site_config
from localdev.net import BackgroundHttpServer

CONFIG_PATH = "/" + CONFIG_OBJECT_KEY

_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8", ".json": "application/json",
                  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


def origin_of(url: str) -> str:
    """scheme://host:port of a URL, as browsers compare origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SiteServer(BackgroundHttpServer):
    """`with SiteServer(api_url=..., require_payment_method=False, port=0) as site: site.url`."""

    what = "Signup site"

    def __init__(self, api_url: str, require_payment_method: bool, port: int = 0,
                 site_dir: Path = SITE_DIR) -> None:
        super().__init__(port)
        self._config = json.dumps(site_config(api_url, require_payment_method)).encode()
        self._headers = security_headers(origin_of(api_url))
        self._site_dir = site_dir.resolve()

    def _resolve(self, path: str) -> tuple[bytes, str] | None:
        """(body, content type) for a request path, or None when nothing is served there."""
        if path == CONFIG_PATH:
            return self._config, _CONTENT_TYPES[".json"]
        relative = "index.html" if path in ("", "/") else path.lstrip("/")
        candidate = (self._site_dir / relative).resolve()
        if not candidate.is_relative_to(self._site_dir) or not candidate.is_file():
            return None
        if candidate.name == CONFIG_OBJECT_KEY:  # a stray committed one must never shadow the generated one
            return None
        content_type = _CONTENT_TYPES.get(candidate.suffix) or mimetypes.guess_type(candidate.name)[0]
        return candidate.read_bytes(), content_type or "application/octet-stream"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def version_string(self) -> str:
                return "tollgate-local-site"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                """Quiet: the browser's own devtools show the requests."""

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                self._serve(include_body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._serve(include_body=False)

            def _serve(self, include_body: bool) -> None:
                found = site._resolve(urlsplit(self.path).path)
                status, (body, content_type) = (
                    (HTTPStatus.OK, found) if found
                    else (HTTPStatus.NOT_FOUND, (b"Not found\n", "text/plain; charset=utf-8"))
                )
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                for name, value in site._headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if include_body:
                    self.wfile.write(body)

        return Handler
