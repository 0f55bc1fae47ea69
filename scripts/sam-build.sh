#!/usr/bin/env bash
# `sam build` needs the Lambda runtime's exact Python (python3.13) on PATH to build the layer.
# Find one (already on PATH, an inactive pyenv version, or a uv-managed install), build, then check
# that every shared object in the build is arm64.
set -euo pipefail
cd "$(dirname "$0")/.."

runs() { "$1" -c pass >/dev/null 2>&1; }

if ! runs python3.13 && command -v pyenv >/dev/null; then
    # pyenv may have 3.13 installed but not active (its shim then refuses to run): use its bin.
    version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -V | tail -n 1 || true)
    if [ -n "$version" ]; then
        PATH="$(pyenv prefix "$version")/bin:$PATH"
        export PATH
    fi
fi
if ! runs python3.13; then
    echo "sam-build: no python3.13 on PATH; installing one with uv" >&2
    uv python install 3.13
    PATH="$(dirname "$(uv python find --managed-python 3.13)"):$PATH"
    export PATH
fi
# sam resolves the layer with `python3.13 -m pip download`.
if ! python3.13 -m pip --version >/dev/null 2>&1; then
    python3.13 -m ensurepip --upgrade
fi
echo "sam-build: using $(python3.13 -c 'import sys; print(sys.executable, sys.version.split()[0])')"

uv run sam build "$@"
uv run python scripts/check_arch.py .aws-sam/build
