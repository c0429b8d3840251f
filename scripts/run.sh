#!/usr/bin/env bash
# Installs what orch needs, builds it, and runs the main job on the embedded defaults:
# `orchctl demo`, an in-process cluster (memory store, fake runtimes, virtual time) that
# runs a Deployment across five nodes, loses a node and reschedules its pods, holds a bad
# rollout within its budget and rolls it back, scales up, and narrates it all with a table
# of nodes and pods and a closing summary. Arguments go to `orchctl demo` (say --fast).
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true
./scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default
exec ./build/bin/orchctl demo "$@"
