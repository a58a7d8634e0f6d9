"""Loopback sockets and HTTP servers for localdev: one clear error when a port is already taken,
no traceback when a client hangs up, and request bodies read whole (chunked or not) or given up on."""

from __future__ import annotations

import errno
import io
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
# A browser closing a tab or a client closing early: normal for a server, never our failure.
CLIENT_DISCONNECTS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_MAX_CHUNK_LINE = 65537  # the request-line limit http.server applies, for chunk-size and trailer lines
# Connections the kernel completes and queues before the server accepts them. socketserver's
# default is 5: a burst of clients (a browser opening its pages, a load test, 100 customers at
# once) overflows it, and the kernel then drops or resets the newest connections. API Gateway
# takes bursts far larger than this; Linux caps the figure at net.core.somaxconn (4096 since 5.4).
LISTEN_BACKLOG = 1024


class PortInUseError(RuntimeError):
    """A fixed port the user asked for is taken; the message names the port and who wanted it."""

    def __init__(self, what: str, host: str, port: int) -> None:
        super().__init__(
            f"{what} cannot start: port {port} on {host} is already in use. "
            f"Stop whatever listens there (e.g. `ss -ltnp 'sport = :{port}'`) or choose another port."
        )
        self.port = port


def bind_loopback(port: int, what: str, host: str = LOOPBACK) -> socket.socket:
    """Bind a listening-ready TCP socket on `host:port` (0 = any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Lets a restarted server reuse a port still in TIME_WAIT; on Linux it never steals a port
    # that another socket is listening on.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(what, host, port) from None
        raise
    return sock


def ensure_port_free(port: int, what: str, host: str = LOOPBACK) -> None:
    """Fail early, with the clear message, for servers that bind their own socket later."""
    if port:
        bind_loopback(port, what, host).close()


class UnreadableBody(Exception):
    """The request body could not be read whole: the client sent less than it announced (then
    went silent or hung up), or broke the chunked framing. The only answer is closing the connection."""


def read_request_body(handler: BaseHTTPRequestHandler, timeout: float) -> bytes:
    """The whole request body: every chunk of a `Transfer-Encoding: chunked` body (RFC 9112 §7.1),
    else Content-Length bytes. A client silent for `timeout` seconds before the body is complete
    raises UnreadableBody instead of holding the connection (and its thread) forever."""
    previous_timeout = handler.connection.gettimeout()
    handler.connection.settimeout(timeout)
    try:
        if handler.headers.get("Transfer-Encoding", "").lower().split(",")[-1].strip() == "chunked":
            return _read_chunked(handler.rfile)
        return _read_exactly(handler.rfile, int(handler.headers.get("Content-Length") or 0))
    except TimeoutError:
        raise UnreadableBody(f"the body was still incomplete after {timeout:g} s without data") from None
    except ValueError as error:
        raise UnreadableBody(f"malformed body framing ({error})") from None
    finally:
        handler.connection.settimeout(previous_timeout)


def _read_exactly(stream: io.BufferedIOBase, size: int) -> bytes:
    data = stream.read(size) if size > 0 else b""
    if len(data) < size:
        raise UnreadableBody(f"the client announced {size} bytes and sent {len(data)} before hanging up")
    return data


def _read_chunked(stream: io.BufferedIOBase) -> bytes:
    chunks = []
    while True:
        size_line = stream.readline(_MAX_CHUNK_LINE)
        if not size_line:
            raise UnreadableBody("the client hung up in the middle of its chunked body")
        size = int(size_line.split(b";", 1)[0], 16)  # ValueError: not a chunk size; extensions ignored
        if size == 0:
            break
        chunks.append(_read_exactly(stream, size))
        if stream.readline(_MAX_CHUNK_LINE).strip():
            raise ValueError("a chunk is longer than its announced size")
    while (trailer := stream.readline(_MAX_CHUNK_LINE)) not in (b"\r\n", b"\n"):
        if not trailer:
            raise UnreadableBody("the client hung up before the end of its chunked body")
    return b"".join(chunks)


class _QuietThreadingHTTPServer(ThreadingHTTPServer):
    """socketserver prints a traceback when a client hangs up mid-request, which reads like a
    failure of ours; a disconnect is silent here, any other error keeps its traceback. It listens
    with LISTEN_BACKLOG, not socketserver's 5."""

    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], CLIENT_DISCONNECTS):
            return
        super().handle_error(request, client_address)


class BackgroundHttpServer:
    """A threaded HTTP server on a loopback port, in a thread of this process, started and
    stopped with the object (`with Server(...) as server: server.url`).

    Subclasses provide `_handler_class()` and name themselves in `what`; port 0 picks a free
    port, a taken fixed port raises PortInUseError naming `what`. A client hanging up is silent. `stop()` does not wait for
    requests in flight unless `join_requests_on_stop` (fine for servers whose clients use one
    request per connection; a browser's idle keep-alive connection would hold stop() forever).
    """

    what = "HTTP server"
    join_requests_on_stop = False

    def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
        self._host = host
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.what} is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self):
        sock = bind_loopback(self._requested_port, self.what, self._host)
        server = _QuietThreadingHTTPServer(sock.getsockname(), self._handler_class(), bind_and_activate=False)
        server.socket.close()
        server.socket = sock
        server.server_address = sock.getsockname()
        server.daemon_threads = not self.join_requests_on_stop
        server.block_on_close = self.join_requests_on_stop
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{self.what}:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class AnyMethodHttpServer(BackgroundHttpServer):
    """A BackgroundHttpServer that answers every request, whatever its method, through
    `_serve(http)` (HTTP/1.1, keep-alive). Subclasses name their `server_header` and serve."""

    server_header = "tollgate-local"

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                """Quiet: the servers log what matters themselves."""

            def version_string(self) -> str:
                return server.server_header

            def handle_one_request(self) -> None:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():
                    return
                server._serve(self)
                self.wfile.flush()

        return Handler
