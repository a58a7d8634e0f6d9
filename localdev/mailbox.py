"""The local mailbox of `make dev`: every email the functions sent through SES (moto), newest first,
with its links clickable, so a sign-up confirmation or a sign-in link is one click away.

moto keeps what SES v2 `SendEmail` sent (its SES backend's `sent_messages`); in server mode it shows
them through its model API (`GET /moto-api/data.json`, service `ses`, model `Message`: source,
destinations, subject, body), which is what this page reads on every request. `GET /messages.json`
gives the same as JSON (newest first; `links` lists the URLs in each body) for tests and scripts.
The page loads nothing but its stylesheet: no script, no inline style, the site's strict CSP.
"""

from __future__ import annotations

import html
import json
import re
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from localdev.net import BackgroundHttpServer
from localdev.stripe_bridge.checkout import PAGE_ASSETS

# The bridge's stand-in pages' stylesheet (light and dark), then the mailbox's own rules.
STYLESHEETS = (PAGE_ASSETS / "checkout.css", Path(__file__).with_name("mailbox.css"))
PAGE_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_URL = re.compile(r"https?://[^\s<>\"]+")
MOTO_TIMEOUT_SECONDS = 10


class Mailbox(BackgroundHttpServer):
    """`with Mailbox(moto_url) as mailbox: mailbox.url`."""

    what = "Local mailbox"

    def __init__(self, moto_url: str, port: int = 0) -> None:
        super().__init__(port)
        self._moto_url = moto_url.rstrip("/")

    def messages(self) -> list[dict[str, Any]]:
        """Every email SES sent, newest first: {to, from, subject, body, links}."""
        with urllib.request.urlopen(f"{self._moto_url}/moto-api/data.json", timeout=MOTO_TIMEOUT_SECONDS) as answer:
            sent = json.loads(answer.read()).get("ses", {}).get("Message", [])
        return [
            {
                "to": ", ".join(message["destinations"].get("ToAddresses", [])),
                "from": message["source"],
                "subject": message["subject"],
                "body": message["body"],
                "links": _URL.findall(message["body"]),
            }
            for message in reversed(sent)
        ]

    def page(self) -> str:
        messages = self.messages()
        items = "".join(
            f'<li class="message"><article aria-labelledby="message-{index}">'
            f'<h2 id="message-{index}">{html.escape(message["subject"])}</h2>'
            f'<p class="meta">To <strong>{html.escape(message["to"])}</strong> from {html.escape(message["from"])}</p>'
            f"<pre>{_with_links(message['body'])}</pre></article></li>"
            for index, message in enumerate(messages)
        )
        body = (
            f'<ol class="messages">{items}</ol>' if messages else "<p>No email yet. Sign up or sign in on the site.</p>"
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="color-scheme" content="light dark"><title>Local mailbox · Tollgate make dev</title>'
            '<link rel="stylesheet" href="/mailbox.css"></head><body><main aria-labelledby="title">'
            '<p class="mode">make dev · what SES sent (emulated by moto)</p><h1 id="title">Local mailbox</h1>'
            f"<p>{len(messages)} email(s), newest first. Reload to see new ones.</p>{body}</main></body></html>"
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        mailbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                """Quiet: the browser's devtools show the requests."""

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/":
                    self._answer(200, "text/html; charset=utf-8", mailbox.page().encode())
                elif path == "/messages.json":
                    self._answer(200, "application/json", json.dumps(mailbox.messages()).encode())
                elif path == "/mailbox.css":
                    self._answer(200, "text/css; charset=utf-8", b"\n".join(path.read_bytes() for path in STYLESHEETS))
                else:
                    self._answer(404, "text/plain; charset=utf-8", b"Not found\n")

            def _answer(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Security-Policy", PAGE_SECURITY_POLICY)
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _with_links(text: str) -> str:
    """The body as text, its URLs as links (everything escaped)."""
    parts, last = [], 0
    for match in _URL.finditer(text):
        parts += [
            html.escape(text[last : match.start()]),
            f'<a href="{html.escape(match.group())}">{html.escape(match.group())}</a>',
        ]
        last = match.end()
    return "".join(parts) + html.escape(text[last:])
