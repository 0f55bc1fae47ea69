#!/usr/bin/env bash
# Prints layers/dependencies/requirements.txt: the runtime dependencies of genjobs, pinned by
# uv.lock (no dev group, no project itself). `make layer-requirements` writes it and
# tests/tooling/test_layer_requirements.py checks that the committed file equals this output.
# Every transitive package is pinned here because `sam build` runs `pip download -r`, which would
# otherwise resolve any missing one to its newest version.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# Generated from uv.lock by scripts/layer-requirements.sh (make layer-requirements). Do not edit."
"${UV:-uv}" export --frozen --no-dev --no-emit-project --no-hashes --no-header --format requirements.txt
