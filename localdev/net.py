"""Loopback sockets for the local servers, with one clear error when a port is already taken."""

from __future__ import annotations

import errno
import socket

LOOPBACK = "127.0.0.1"


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
