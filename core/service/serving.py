"""Serving an app with uvicorn, shared by the scoring service and the studio: the socket is bound
before the server starts (so ``--port 0`` has a real address to print and nothing else can take
the port meanwhile), and the app's lifespan prints the ready line once it has started.

Kept apart from :mod:`.app` so that the studio can use it without importing the service's routes.
"""

from __future__ import annotations

import socket

from fastapi import FastAPI


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 = any free port), bound before the server starts, so the real
    address can be printed and nothing else can take the port meanwhile."""
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(app: FastAPI, what: str) -> None:
    """The ready line, printed by an app's lifespan once it has started (the address is known only
    when :func:`serve` bound the socket; an app under a test client has none)."""
    url = getattr(app.state, "url", None)
    if url:
        print(f"visionblocks: {what} ready at {url}", flush=True)


def serve(app: FastAPI, host: str, port: int, **options) -> None:
    """Serve ``app`` with uvicorn until SIGINT/SIGTERM, on a socket bound first (``--port 0``: the
    real address is in ``app.state.url`` for the ready line); ``options`` go to ``uvicorn.Config``."""
    import uvicorn

    sock = bind(host, port)
    app.state.url = url_of(sock)
    uvicorn.Server(uvicorn.Config(app, lifespan="on", **options)).run(sockets=[sock])
