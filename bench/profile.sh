#!/usr/bin/env bash
# Profile one lmgate worker under wrk load with py-spy (sampling, no code changes).
#
#   bash bench/profile.sh                 (needs the mock up: bench/mock/mock.sh start; ~1 minute)
#
# For each mode (nonstream, stream): starts lmgate pinned to GATEWAY_CPU, 3 s warm-up, then records
# PROFILE_S seconds at c=32 with `py-spy record --format raw` (collapsed stacks, idle frames left
# out) and prints the top functions by own time and by inclusive time (bench/pyspy_top.py).
# Samples only the thread holding the GIL (`--gil`): idle worker threads (e.g. a thread pool waiting on
# its queue) would otherwise show up as busy leaf frames.
# The gateway gets bench/vkey_setup.sh's config (priced models) and a virtual key with rpm/tpm limits
# and a budget (KEY=master: the master key), as bench/floor.sh measures it.
# REDIS=1 shares the key's counters in a redis-server on port PORT+1 (pinned to LOAD_CPU).
# Env: GATEWAY_CPU=1 LOAD_CPU=0 PROFILE_S=15 RATE=250 PORT=4000 RESULTS_DIR=/tmp/lmgate-bench-results/profile
#      LMGATE_REF=  (as in run_bench.sh: profile that commit's src/lmgate instead of the working tree)
# Stacks and an SVG flame graph per mode land in RESULTS_DIR.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"; cd "$HERE"
GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"; PROFILE_S="${PROFILE_S:-15}"; RATE="${RATE:-250}"
PORT="${PORT:-4000}"; BASE="http://127.0.0.1:$PORT"
RESULTS_DIR="${RESULTS_DIR:-/tmp/lmgate-bench-results/profile}"; mkdir -p "$RESULTS_DIR"
PYSPY="$REPO/.venv/bin/py-spy"
if [[ -n "${LMGATE_REF:-}" ]]; then
  git -C "$REPO" archive "$LMGATE_REF" src/lmgate | tar -x -C "$RESULTS_DIR"
  export PYTHONPATH="$RESULTS_DIR/src${PYTHONPATH:+:$PYTHONPATH}"
  echo "profiling $LMGATE_REF = $(git -C "$REPO" rev-parse --short "$LMGATE_REF")"
else
  echo "profiling the working tree ($(git -C "$REPO" describe --always --dirty))"
fi
mkdir -p "$RESULTS_DIR/setup"; rm -rf "$RESULTS_DIR/setup/state"
source "$HERE/vkey_setup.sh" "$RESULTS_DIR/setup"
curl -fsS -o /dev/null -m 2 http://127.0.0.1:18080/health || { echo "start the mock first: bench/mock/mock.sh start" >&2; exit 1; }
if curl -s -o /dev/null -m 1 "$BASE/"; then echo "port $PORT is busy" >&2; exit 1; fi

GPID=""; RPID=""
stop_gw() { [[ -n "$GPID" ]] && { kill -TERM "$GPID" 2>/dev/null || true; wait "$GPID" 2>/dev/null || true; GPID=""; }; }
trap 'stop_gw || true; [[ -n $RPID ]] && kill "$RPID" 2>/dev/null || true' EXIT INT TERM
if [[ ${REDIS:-0} == 1 ]]; then
  taskset -c "$LOAD_CPU" redis-server --port $((PORT + 1)) --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$RESULTS_DIR/setup" >"$RESULTS_DIR/redis.log" 2>&1 &
  RPID=$!
  printf 'router_settings:\n  redis_host: 127.0.0.1\n  redis_port: %s\n' $((PORT + 1)) >>"$RESULTS_DIR/setup/gate.yaml"
fi

for mode in nonstream stream; do
  taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/lmgate" serve --config "$RESULTS_DIR/setup/gate.yaml" \
    --host 127.0.0.1 --port "$PORT" --workers 1 >"$RESULTS_DIR/lmgate-$mode.log" 2>&1 &
  GPID=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null -m 1 "$BASE/health/liveliness" 2>/dev/null && break; sleep 0.05; done
  if [[ $mode == stream ]]; then export BENCH_MODEL=bench-model-stream BENCH_STREAM=1
  else export BENCH_MODEL=bench-model BENCH_STREAM=0; fi
  export BENCH_PATH=/v1/chat/completions BENCH_KEY
  taskset -c "$LOAD_CPU" wrk -t1 -c32 -d3s -s chat.lua "$BASE" >/dev/null
  taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$((PROFILE_S + 4))s" --latency -s chat.lua "$BASE" >"$RESULTS_DIR/wrk-$mode.txt" &
  WRK=$!
  sleep 1
  "$PYSPY" record --pid "$GPID" --rate "$RATE" --duration "$PROFILE_S" --gil --format raw \
    -o "$RESULTS_DIR/pyspy-$mode.txt" >/dev/null 2>&1
  "$PYSPY" record --pid "$GPID" --rate "$RATE" --duration 5 --gil --format flamegraph \
    -o "$RESULTS_DIR/pyspy-$mode.svg" >/dev/null 2>&1 || true
  wait "$WRK"
  echo "=== $mode (c=32): $(grep '^BENCHRESULT' "$RESULTS_DIR/wrk-$mode.txt" | grep -o 'rps=[0-9.]*') under py-spy at ${RATE} Hz"
  python3 "$HERE/pyspy_top.py" "$RESULTS_DIR/pyspy-$mode.txt"
  stop_gw
done
