"""A local DynamoDB + S3 stand-in (a moto server) for tests, benchmarks and `make moto`.

moto serves each request on its own thread without a lock, so two writes to one item (or a write
during a transaction's snapshot) can interleave, where real DynamoDB applies each request
atomically. `start_moto_server` serialises requests to restore that, so concurrency tests test our
code and not moto, and turns off Nagle's algorithm (~40 ms per request otherwise). Needs the
`moto[dynamodb,s3]` package, a development dependency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chat_core.errors import MissingExtraError

__all__ = ["MotoServer", "start_moto_server"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _one_request_at_a_time(app: WsgiApp) -> WsgiApp:
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return serialised


@dataclass
class MotoServer:
    """A running moto server; `endpoint` is its base URL."""

    endpoint: str
    _server: Any
    _serving: bool = True
    _bound: bool = True

    def stop(self, *, close_socket: bool = True) -> None:
        """Stop serving; with `close_socket=False` the port stays bound, so connections hang."""
        if self._serving:
            self._server.stop()
            self._serving = False
        if close_socket and self._bound:
            self._server._server.server_close()
            self._bound = False


def start_moto_server(host: str = "127.0.0.1", port: int = 0) -> MotoServer:
    """Start a moto server in this process (port 0: a free one) with requests serialised."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise MissingExtraError("The local AWS stand-in (moto)", "pip install 'moto[dynamodb,s3]'") from exc
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    wsgi: Any = server._server
    wsgi.app = _one_request_at_a_time(wsgi.app)
    wsgi.RequestHandlerClass.disable_nagle_algorithm = True
    bound_host, bound_port = server.get_host_and_port()
    return MotoServer(endpoint=f"http://{bound_host}:{bound_port}", _server=server)
