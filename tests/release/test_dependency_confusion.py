"""`chat-rag` exists on the public index: internal names must come from the private index only.

The `public` fixture (conftest.py) is a pypiserver standing for the public index after someone
uploaded `chat-rag` at our version number (other content) and 1.99.0; every other name is
redirected to the real public index. The naive flags pick the impostor (so these tests can tell);
the documented recipe, used by the round trip for both services, installs our wheel, compared by hash.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from release_harness import (
    OUR_CHAT_RAG,
    SERVICES,
    UV,
    Index,
    PublicIndex,
    ServiceEnvs,
    installed,
    installed_from,
    run,
    sha256,
    site_packages,
)

pytestmark = pytest.mark.slow


def resolved_hash(index_options: list[str], env: dict[str, str], tmp_path: Path) -> str:
    """The sha256 of the `chat-rag==<our version>` file uv selects with these index options."""
    requirements = tmp_path / "requirements.in"
    requirements.write_text(f"chat-rag=={OUR_CHAT_RAG}\n")
    compile_ = [
        UV,
        "pip",
        "compile",
        "--no-config",
        "--no-deps",
        "--generate-hashes",
        "--no-header",
        "--quiet",
    ]
    output = run([*compile_, *index_options, requirements], env=env, cwd=tmp_path)
    digests: list[str] = re.findall(r"--hash=sha256:([0-9a-f]{64})", output)
    assert len(digests) == 1, output
    return digests[0]


def test_the_naive_extra_index_url_form_picks_the_impostor(
    index: Index, public: PublicIndex, tmp_path: Path
) -> None:
    private = index.simple_url.replace("http://", f"http://{index.username}:{index.password}@")
    options = ["--index-url", private, "--extra-index-url", public.index.simple_url]
    assert resolved_hash(options, index.env(), tmp_path) == sha256(public.impostors[OUR_CHAT_RAG])


def test_the_index_priority_form_picks_our_wheel(
    index: Index, public: PublicIndex, dist: Path, tmp_path: Path
) -> None:
    env = index.env(
        UV_INDEX_INTERNAL_USERNAME=str(index.username), UV_INDEX_INTERNAL_PASSWORD=str(index.password)
    )
    options = ["--index", f"internal={index.simple_url}", "--default-index", public.index.simple_url]
    (ours,) = dist.glob("chat_rag-*.whl")
    assert resolved_hash(options, env, tmp_path) == sha256(ours)


@pytest.mark.parametrize("service", SERVICES)
def test_the_documented_recipe_installed_our_chat_rag(
    service: str, service_envs: dict[str, ServiceEnvs], public: PublicIndex, dist: Path
) -> None:
    venv = service_envs[service].index  # installed with the impostor-holding index as the default index
    (ours,) = dist.glob("chat_rag-*.whl")
    assert installed(venv)["chat-rag"] == OUR_CHAT_RAG
    assert installed_from(venv, "chat-rag", ours)
    assert not installed_from(venv, "chat-rag", public.impostors[OUR_CHAT_RAG])
    assert "IMPOSTOR" not in (site_packages(venv) / "chat_rag" / "__init__.py").read_text()
