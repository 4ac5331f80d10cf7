"""`make publish`: upload dist/ to the private index named by `CHAT_INDEX_URL`.

Environment:
    CHAT_INDEX_URL       the index's simple URL, e.g. https://pypi.internal/simple/ (required)
    CHAT_PUBLISH_URL     its upload URL; default: CHAT_INDEX_URL without the trailing `simple/`
                         (pypiserver layout; devpi needs it set, e.g. .../ci/internal/)
    CHAT_INDEX_USERNAME  } basic-auth credentials, used for the upload and for reading the index
    CHAT_INDEX_PASSWORD  }

Every file is checked against the index first (`uv publish --check-url`): a file that is already
there byte for byte is skipped, and a file whose name is there with other content (code changed
without a version bump) makes the upload fail. Trusted publishing is never attempted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["default_publish_url", "main", "publish", "with_credentials"]

ROOT = Path(__file__).resolve().parents[1]


def default_publish_url(index_url: str) -> str:
    """The upload URL of a pypiserver-style index: its simple URL without `simple/`."""
    base = index_url.rstrip("/")
    if not base.endswith("/simple"):
        raise ValueError(f"cannot derive the upload URL from {index_url!r}: set CHAT_PUBLISH_URL")
    return base.removesuffix("simple")


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """`url` with basic-auth credentials in it (uv does not send publish credentials to the check URL)."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="") + (f":{quote(password, safe='')}" if password else "")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def publish(
    files: list[Path],
    index_url: str,
    *,
    publish_url: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `uv publish` for `files`; credentials travel in the environment, never on the command line."""
    if not files:
        raise ValueError("nothing to publish: run `make wheels` first")
    env = dict(os.environ)
    for name in ("UV_PUBLISH_TOKEN", "UV_PUBLISH_INDEX", "UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD"):
        env.pop(name, None)
    env["UV_PUBLISH_URL"] = publish_url or default_publish_url(index_url)
    env["UV_PUBLISH_CHECK_URL"] = with_credentials(index_url, username, password)
    if username:
        env["UV_PUBLISH_USERNAME"] = username
    if password:
        env["UV_PUBLISH_PASSWORD"] = password
    uv = os.environ.get("UV", "uv")
    command = [uv, "publish", "--no-config", "--trusted-publishing", "never", *map(str, files)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def main() -> int:
    """Publish every wheel and sdist of `--dist` (default dist/) to `CHAT_INDEX_URL`."""
    parser = argparse.ArgumentParser(description="Upload dist/ to the private index (CHAT_INDEX_URL).")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="directory of built files")
    args = parser.parse_args()
    index_url = os.environ.get("CHAT_INDEX_URL")
    if not index_url:
        print("error: set CHAT_INDEX_URL to the private index's simple URL", file=sys.stderr)
        return 2
    files = sorted([*args.dist.glob("*.whl"), *args.dist.glob("*.tar.gz")])
    result = publish(
        files,
        index_url,
        publish_url=os.environ.get("CHAT_PUBLISH_URL") or None,
        username=os.environ.get("CHAT_INDEX_USERNAME") or None,
        password=os.environ.get("CHAT_INDEX_PASSWORD") or None,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
