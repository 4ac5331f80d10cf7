#!/usr/bin/env bash
# Install a released distribution (a service, or a library) from the private index into a fresh
# virtual environment, with internal names resolved from the private index only.
#
#   CHAT_INDEX_URL=https://pypi.internal/simple/ scripts/install-from-index.sh app-api /opt/app-api [1.0.0]
#
# The version defaults to the one in this checkout. Third-party packages are held to the versions of
# this checkout's uv.lock (`-c`), so a checkout of the release tag installs the tested set.
# CHAT_INDEX_USERNAME / CHAT_INDEX_PASSWORD are sent when set (an index that protects reads).
#
# Why it is safe against dependency confusion (`chat-rag` exists on the public index): the private
# index is given with `--index`, which uv searches BEFORE the default (public) index, and uv's default
# `first-index` strategy takes every version of a name from the first index that has it. Never use
# `--index-url PRIVATE --extra-index-url PUBLIC`: uv then searches the extra (public) index first, and
# pip merges both and takes the highest version. Settings that could add an index in front of ours
# (UV_INDEX, UV_EXTRA_INDEX_URL, UV_FIND_LINKS, UV_INDEX_STRATEGY, uv.toml) are ignored here.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 <distribution> <venv> [<version>]" >&2
    exit 2
fi
dist=$1
venv=$2
root=$(cd "$(dirname "$0")/.." && pwd)
uv=${UV:-uv}
: "${CHAT_INDEX_URL:?set CHAT_INDEX_URL to the private index simple URL}"
version=${3:-$(cd "$root" && "$uv" version --package "$dist" --short --frozen)}

unset UV_INDEX UV_EXTRA_INDEX_URL UV_FIND_LINKS UV_INDEX_STRATEGY UV_PRERELEASE VIRTUAL_ENV
if [ -n "${CHAT_INDEX_USERNAME:-}" ]; then
    export UV_INDEX_INTERNAL_USERNAME=$CHAT_INDEX_USERNAME UV_INDEX_INTERNAL_PASSWORD=${CHAT_INDEX_PASSWORD:-}
fi

constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
(cd "$root" && "$uv" export --frozen --no-dev --package "$dist" --no-emit-workspace --no-hashes \
    --no-header --no-annotate --quiet --output-file "$constraints")

"$uv" venv --quiet --no-config "$venv"
"$uv" pip install --quiet --no-config --python "$venv/bin/python" \
    --index "internal=$CHAT_INDEX_URL" -c "$constraints" "$dist==$version"
"$uv" pip check --quiet --no-config --python "$venv/bin/python"
echo "$dist $version installed into $venv"
