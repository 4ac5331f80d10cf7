#!/usr/bin/env bash
# Run the install steps of docker/Dockerfile.<service> into a fresh virtual environment, without a
# container engine, and check the result.
#
#   docker/install-service.sh app-api /tmp/venv-app-api
#
# Same build context as the image (root pyproject.toml + uv.lock first, then only the members the
# Dockerfile COPYs, filtered like docker/.dockerignore), and the very `uv sync` commands of the
# Dockerfile, read from it. Then: `uv pip check`, and the members copied == the members the lock says
# the service needs == the internal distributions installed. Differences from the image: the venv
# path (UV_PROJECT_ENVIRONMENT) and no bytecode precompilation unless UV_COMPILE_BYTECODE=1.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 <service> <venv>" >&2
    exit 2
fi
service=$1
venv=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
uv=${UV:-uv}
dockerfile=$root/docker/Dockerfile.$service
[ -f "$dockerfile" ] || { echo "error: no $dockerfile" >&2; exit 2; }

# The Dockerfile's two install commands (dependencies only, then the members) and its COPY list.
mapfile -t syncs < <(grep -o 'uv sync .*' "$dockerfile")
mapfile -t copied < <(sed -En 's%^COPY ((packages|services)/[^ ]+) .*%\1%p' "$dockerfile")
if [ "${#syncs[@]}" -ne 2 ] || [[ ${syncs[0]} != *--no-install-workspace* ]] || [[ ${syncs[1]} != *--no-editable* ]]; then
    echo "error: expected two 'uv sync' lines in $dockerfile (--no-install-workspace, then --no-editable)" >&2
    exit 2
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
export UV_PROJECT_ENVIRONMENT=$venv UV_PYTHON_DOWNLOADS=0
unset VIRTUAL_ENV

# Layer 1: only the root pyproject.toml and uv.lock are present.
cp "$root/pyproject.toml" "$root/uv.lock" "$context/"
(cd "$context" && eval "$uv ${syncs[0]#uv } --quiet")

# Layer 2: the members the Dockerfile copies.
for member in "${copied[@]}"; do
    mkdir -p "$context/$member"
    tar -C "$root/$member" --exclude=tests --exclude=__pycache__ --exclude=.venv --exclude='*.egg-info' \
        --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache -cf - . | tar -C "$context/$member" -xf -
done
(cd "$context" && eval "$uv ${syncs[1]#uv } --quiet")

"$uv" pip check --python "$venv/bin/python" --quiet

# What the lock says the service needs, what the Dockerfile copies, what got installed.
want=$(cd "$root" && "$uv" export --frozen --no-dev --package "$service" --no-editable --no-hashes \
    --no-header --no-annotate --quiet | sed -n 's|^\./[^/]*/||p' | sort)
copies=$(printf '%s\n' "${copied[@]}" | sed 's|.*/||' | sort)
workspace=$(cd "$root" && "$uv" workspace list | sort)
installed=$("$venv/bin/python" -c 'import importlib.metadata as m, re
for d in m.distributions(): print(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower())' | sort)
have=$(comm -12 <(echo "$installed") <(echo "$workspace"))
if [ "$want" != "$copies" ]; then
    echo "error: $dockerfile copies [$(echo $copies)] but $service needs [$(echo $want)]" >&2
    exit 1
fi
if [ "$want" != "$have" ]; then
    echo "error: internal set mismatch: want [$(echo $want)] have [$(echo $have)]" >&2
    exit 1
fi
echo "$service: internal packages = $(echo $have)"
