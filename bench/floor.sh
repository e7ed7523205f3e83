#!/usr/bin/env bash
# lmgate against the Python floor (bench/pyfloor.py: a featureless aiohttp pass-through), alternating.
#   bash bench/floor.sh                     (about 3 minutes; KEY=master to send the master key instead)
# lmgate runs with everything on (metrics, request log, router) and is sent a virtual key carrying an
# rpm limit, a tpm limit and a budget, on models with a price (so the budget is reserved and settled
# per request); the limits are far above what the run sends. Both processes run at once pinned to the
# same CPU and the load alternates between them (bench/ab.sh), so lmgate/floor is how much of the
# floor the whole gateway keeps. Env: as bench/ab.sh (ROUNDS, SLICE, GATEWAY_CPU, LOAD_CPU), KEY=virtual|master.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
WORK="$(mktemp -d /tmp/lmgate-floor-XXXX)"
trap 'rm -rf "$WORK"' EXIT
source "$HERE/vkey_setup.sh" "$WORK"
A_NAME=lmgate A_BIN="$REPO/.venv/bin/lmgate" A_CONFIG="$WORK/gate.yaml" A_KEY="$BENCH_KEY" \
B_NAME=floor B_CMD="$REPO/.venv/bin/python $HERE/pyfloor.py {port}" \
  bash "$HERE/ab.sh"
