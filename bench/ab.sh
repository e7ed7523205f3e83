#!/usr/bin/env bash
# Alternating A/B throughput of two lmgate set-ups, in the same run (the method of obs_overhead.sh).
#   A_NAME=on A_BIN=.venv/bin/lmgate A_CONFIG=a.yaml B_NAME=off B_BIN=... B_CONFIG=b.yaml bash bench/ab.sh
# A set-up that is not an lmgate (the Python floor) gives its whole command instead, `{port}` in it
# replaced by the port: B_CMD='.venv/bin/python bench/pyfloor.py {port}'. A_KEY/B_KEY: the bearer key
# each set-up is sent (default sk-bench, the bench config's master key).
# Both gateways run at once on the same CPU; the load (wrk, c=32) alternates between them in short
# slices, so the VM's slow drift (which moves a whole 10 s run by several percent here) hits both
# alike. Each round restarts the pair with the start order and ports swapped, so neither keeps a
# position advantage. Prints req/s per set-up (non-stream and stream), A/B of the sums, and the
# per-round ratios. Configs must serve `bench-model` and `bench-model-stream` (bench/lmgate-bench.yaml).
# Env: ROUNDS=6  PAIRS=2 (slices per set-up, kind and round)  SLICE=3s  GATEWAY_CPU=1  LOAD_CPU=0
#      MOCK_CPU=$LOAD_CPU  BENCH_PATH=/v1/chat/completions. Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROUNDS="${ROUNDS:-6}"; PAIRS="${PAIRS:-2}"; SLICE="${SLICE:-3s}"; GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"
A="${A_NAME:-A}"; B="${B_NAME:-B}"
declare -A BIN=([$A]="${A_BIN:-}" [$B]="${B_BIN:-}") CONFIG=([$A]="${A_CONFIG:-}" [$B]="${B_CONFIG:-}")
declare -A CMD=([$A]="${A_CMD:-}" [$B]="${B_CMD:-}") KEY=([$A]="${A_KEY:-sk-bench}" [$B]="${B_KEY:-sk-bench}")
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
WORK="$(mktemp -d /tmp/lmgate-ab-XXXX)"; PORTS=(4077 4078)
MOCK_CPU="${MOCK_CPU-$LOAD_CPU}" bash "$HERE/mock/mock.sh" start >/dev/null  # nginx beside the load, off the gateway CPU
PIDS=()
stop_gateways() { for p in "${PIDS[@]}"; do kill -- -"$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap 'stop_gateways; bash "$HERE/mock/mock.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

start() {  # setup port
  if [[ -n ${CMD[$1]} ]]; then
    # shellcheck disable=SC2086  # the command is word-split on purpose
    setsid taskset -c "$GATEWAY_CPU" ${CMD[$1]//\{port\}/$2} >"$WORK/$1.log" 2>&1 &
  else
    setsid taskset -c "$GATEWAY_CPU" "${BIN[$1]}" serve --config "${CONFIG[$1]}" --port "$2" --log-level warning >"$WORK/$1.log" 2>&1 &
  fi
  PIDS+=($!)
}
wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$1/health/liveliness" && return; sleep 0.05; done; echo "gateway on :$1 did not start" >&2; exit 1; }
measure() {  # setup model stream duration -> req/s (exits on any error answer)
  local out
  out=$(BENCH_MODEL="$2" BENCH_STREAM=$([[ $3 == true ]] && echo 1 || echo 0) BENCH_PATH="${BENCH_PATH:-/v1/chat/completions}" BENCH_KEY="${KEY[$1]}" \
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$4" -s "$HERE/chat.lua" "http://127.0.0.1:${port[$1]}" 2>/dev/null | grep '^BENCHRESULT')
  [[ $out == *"err_status=0 "* ]] || { echo "$1: error answers: $out" >&2; exit 1; }
  awk '{for(i=2;i<=NF;i++){split($i,a,"=");if(a[1]=="rps")print a[2]}}' <<<"$out"
}

declare -A sum port
for round in $(seq "$ROUNDS"); do
  if (( round % 2 )); then order=("$A" "$B"); else order=("$B" "$A"); fi
  port[${order[0]}]=${PORTS[0]}; port[${order[1]}]=${PORTS[1]}
  start "${order[0]}" "${PORTS[0]}"; start "${order[1]}" "${PORTS[1]}"
  wait_up "${PORTS[0]}"; wait_up "${PORTS[1]}"
  for s in "${order[@]}"; do measure "$s" bench-model false 2s >/dev/null; done  # warm-up
  line="round $round:"
  for kind in ns st; do
    model=bench-model; stream=false; [[ $kind == st ]] && { model=bench-model-stream; stream=true; }
    for pair in $(seq "$PAIRS"); do  # A B, then B A, ...
      setups=("${order[@]}"); (( pair % 2 )) || setups=("${order[1]}" "${order[0]}")
      for s in "${setups[@]}"; do
        r=$(measure "$s" "$model" "$stream" "$SLICE")
        sum[$round.$s.$kind]=$(echo "${sum[$round.$s.$kind]:-0} + $r" | bc)
        sum[$s.$kind]=$(echo "${sum[$s.$kind]:-0} + $r" | bc)
        line="$line $s/$kind ${r}"
      done
    done
  done
  echo "$line req/s"
  stop_gateways
done
echo
printf '| set-up | non-stream req/s (c=32) | stream req/s (c=32) |\n|---|---:|---:|\n'
for s in "$B" "$A"; do
  printf '| %s | %.0f | %.0f |\n' "$s" "$(echo "${sum[$s.ns]} / $ROUNDS / $PAIRS" | bc -l)" "$(echo "${sum[$s.st]} / $ROUNDS / $PAIRS" | bc -l)"
done
printf '| %s/%s | %.3f | %.3f |\n' "$A" "$B" "$(echo "${sum[$A.ns]} / ${sum[$B.ns]}" | bc -l)" "$(echo "${sum[$A.st]} / ${sum[$B.st]}" | bc -l)"
printf '\nper-round %s/%s (non-stream/stream):' "$A" "$B"
for round in $(seq "$ROUNDS"); do
  printf ' %.3f/%.3f' "$(echo "${sum[$round.$A.ns]} / ${sum[$round.$B.ns]}" | bc -l)" "$(echo "${sum[$round.$A.st]} / ${sum[$round.$B.st]}" | bc -l)"
done
echo
