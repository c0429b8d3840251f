#!/usr/bin/env bash
# Installs what orch needs, builds it, and runs the main job on the embedded defaults:
# orch-quickstart, an in-process cluster (memory store, durable to a temporary directory)
# that applies the example manifests, watches them through shared informers, survives a
# restart of its store, and prints what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
./scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default
exec ./build/bin/orch-quickstart "$@"
