#!/usr/bin/env bash
# Cost of observability: lmgate with metrics + request log ON vs both OFF, alternating in the same run
# (bench/ab.sh has the method).   bash bench/obs_overhead.sh   (about 3 minutes)
# Env: as bench/ab.sh (ROUNDS=6 PAIRS=2 SLICE=3s GATEWAY_CPU=1 LOAD_CPU=0). Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
WORK="$(mktemp -d /tmp/lmgate-obs-XXXX)"; trap 'rm -rf "$WORK"' EXIT
cp "$HERE/lmgate-bench.yaml" "$WORK/on.yaml"
printf '  request_log_path: %s/requests.jsonl\n' "$WORK" >>"$WORK/on.yaml"
cp "$HERE/lmgate-bench.yaml" "$WORK/off.yaml"
printf '  request_log_path: false\n  metrics: false\n' >>"$WORK/off.yaml"
A_NAME=on A_BIN="$REPO/.venv/bin/lmgate" A_CONFIG="$WORK/on.yaml" \
B_NAME=off B_BIN="$REPO/.venv/bin/lmgate" B_CONFIG="$WORK/off.yaml" bash "$HERE/ab.sh"
