"""Console script: `inference-api [--host H] [--port P]`."""

from __future__ import annotations

import argparse

import uvicorn

from chat_core.logs import configure_logging
from inference_api.config import get_settings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `inference-api` console script."""
    parser = argparse.ArgumentParser(prog="inference-api", description="Chat platform inference API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    args = parser.parse_args(argv)
    from inference_api.main import create_app

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json, service="inference-api")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()
