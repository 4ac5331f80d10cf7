"""Console script: `app-api [--host H] [--port P]` serves the API.

Without `CHAT_PUBLIC_URL`, the upload and download links it signs name that host and port.

`app-api dev-token` mints a development token (HS256 with the development secret, issuer `chat-dev`,
audience `chat-platform`: a token without both is refused with 401); `app-api openapi` prints the OpenAPI document
(committed as `services/app-api/openapi.json`); `app-api seed` adds the development model catalogue,
the system AppRoles and the tool catalogue's missing entries.
"""

from __future__ import annotations

import argparse
import json
import sys

from chat_http.startup import startup_imports

with startup_imports():  # see chat_http.startup
    from app_api.config import Environment, Settings, get_settings

__all__ = ["main", "openapi_document", "own_url"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app-api", description="Chat platform app API.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    commands = parser.add_subparsers(dest="command")
    token = commands.add_parser("dev-token", help="print a development bearer token")
    token.add_argument("--user", default="alice", help="user id (sub claim)")
    token.add_argument("--email", default=None, help="email (default <user>@example.com)")
    token.add_argument("--name", default=None, help="display name (default: the user id, capitalised)")
    token.add_argument(
        "--roles",
        default="",
        help="comma-separated JWT roles, e.g. admin,Admin (the original frontend's admin pages need Admin)",
    )
    token.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra string claim (repeatable), e.g. http://schemas.boisestate.edu/claims/employeenumber=123456789",
    )
    token.add_argument("--expires-in", type=int, default=12 * 3600, help="lifetime in seconds")
    commands.add_parser("openapi", help="print the OpenAPI document as JSON")
    seed = commands.add_parser("seed", help="add the development model catalogue (keeps existing models)")
    seed.add_argument("--provision", action="store_true", help="aws backend: create tables and bucket first")
    return parser


def openapi_document() -> str:
    """The app's OpenAPI document, as committed in `services/app-api/openapi.json`."""
    from app_api.main import create_app

    return json.dumps(create_app(Settings(_env_file=None)).openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `app-api` console script."""
    args = _parser().parse_args(argv)
    if args.command == "openapi":
        sys.stdout.write(openapi_document())
        return
    settings = get_settings()
    if args.command == "dev-token":
        from chat_http.auth import mint_dev_token
        from chat_http.secrets import dev_jwt_secret

        if settings.env is Environment.PRODUCTION:
            sys.exit("dev-token is not available when CHAT_ENV=production.")
        roles = [role.strip() for role in args.roles.split(",") if role.strip()]
        extra: dict[str, str] = {}
        for claim in args.claim:
            name, separator, value = claim.partition("=")
            if not separator or not name:
                sys.exit(f"--claim {claim!r}: expected NAME=VALUE.")
            extra[name] = value
        print(
            mint_dev_token(
                dev_jwt_secret(settings),
                user_id=args.user,
                email=args.email or f"{args.user}@example.com",
                name=args.name or args.user.capitalize(),
                roles=roles,
                expires_in=args.expires_in,
                extra_claims=extra,
            )
        )
        return
    if args.command == "seed":
        import asyncio

        from app_api.seed import seed_storage
        from chat_core.errors import ChatError

        if settings.env is Environment.PRODUCTION:
            sys.exit("seed is not available when CHAT_ENV=production.")
        try:
            result = asyncio.run(seed_storage(settings, provision=args.provision))
        except ChatError as exc:  # JUSTIFICATION: reported as exit status 1 and one line, not a traceback.
            sys.exit(f"app-api seed failed: {exc.message}")
        kept = f"; {len(result.kept)} already there, left as they are" if result.kept else ""
        print(f"Model catalogue: added {', '.join(result.created) or 'nothing'}{kept}.")
        kept_roles = (
            f"; {len(result.roles_kept)} already there, left as they are" if result.roles_kept else ""
        )
        print(f"AppRoles: added {', '.join(result.roles_created) or 'nothing'}{kept_roles}.")
        kept_tools = f"; {len(result.tools_kept)} already there" if result.tools_kept else ""
        print(f"Tool catalogue: added {', '.join(result.tools_created) or 'nothing'}{kept_tools}.")
        return
    from app_api.main import create_app
    from chat_http.app import serve

    if "public_url" not in settings.model_fields_set:  # CHAT_PUBLIC_URL unset: links name this server
        settings = settings.model_copy(update={"public_url": own_url(args.host, args.port)})
    serve(create_app(settings), settings, service="app-api", host=args.host, port=args.port)


def own_url(host: str, port: int) -> str:
    """The URL a browser on this machine reaches a server bound to `host:port` at."""
    if host in {"", "0.0.0.0", "::"}:  # noqa: S104 - compared with, not bound to  # nosec B104
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


if __name__ == "__main__":
    main()
