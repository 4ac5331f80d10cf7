"""Console script: `inference-api [--host H] [--port P]`."""

from __future__ import annotations

import argparse

from chat_http.startup import startup_imports

with startup_imports():  # see chat_http.startup
    from inference_api.config import get_settings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `inference-api` console script."""
    parser = argparse.ArgumentParser(prog="inference-api", description="Chat platform inference API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    args = parser.parse_args(argv)
    from chat_http.app import serve
    from inference_api.main import create_app

    settings = get_settings()
    serve(create_app(settings), settings, service="inference-api", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
