"""``uvicorn`` with its listening socket marked as TCP, so that workers set TCP_NODELAY.

With ``--workers N`` uvicorn binds the listening socket itself with ``proto`` left at 0;
accepted connections inherit that, and asyncio turns on ``TCP_NODELAY`` only for sockets
whose ``proto`` is ``IPPROTO_TCP``. Nagle's algorithm then meets the client's delayed ACK
and every keep-alive request after the first waits about 40 ms on Linux (uvicorn issue
#3149; uvloop is not affected, it sets the option itself). This entry point changes nothing
but the ``proto`` of that socket: ``python -m benchmarks.uvicorn_nodelay`` takes the same
arguments as ``python -m uvicorn``. The benchmarks use it only when ``needs_fix()``.
"""

from __future__ import annotations

import socket
from importlib.util import find_spec

from uvicorn.config import Config

_bind_socket = Config.bind_socket


def _bind_tcp_socket(self: Config) -> socket.socket:
    sock = _bind_socket(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        inheritable = sock.get_inheritable()
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        sock.set_inheritable(inheritable)
    return sock


def needs_fix(loop: str) -> bool:
    """Does this uvicorn bind worker sockets without IPPROTO_TCP (on the asyncio loop)?"""
    if loop == "uvloop" or (loop == "auto" and find_spec("uvloop")):
        return False
    config = Config(app="benchmarks.apps:bare", host="127.0.0.1", port=0, log_config=None)
    sock = _bind_socket(config)
    try:
        return sock.proto != socket.IPPROTO_TCP
    finally:
        sock.close()


def main() -> None:
    from uvicorn.main import main as uvicorn_main

    Config.bind_socket = _bind_tcp_socket  # type: ignore[method-assign]
    uvicorn_main()


if __name__ == "__main__":
    main()
