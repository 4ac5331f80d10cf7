"""`make moto`: a local DynamoDB + S3 stand-in on 127.0.0.1 for `CHAT_STORAGE=aws`; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import logging
import threading

from chat_storage.aws.testing import start_moto_server


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = start_moto_server(args.host, args.port)
    print(f"moto (DynamoDB + S3) at {server.endpoint}")
    print(f"use it with: CHAT_STORAGE=aws CHAT_AWS_ENDPOINT_URL={server.endpoint} make dev")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nStopping moto.")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
