#!/usr/bin/env bash
# Cost of observability: lmgate with metrics + request log ON vs both OFF, in the same run.
#   bash bench/obs_overhead.sh            (about 3 minutes)
# Both gateways run at once on the same CPU; the load (wrk, c=32) alternates between them in short
# slices, so the VM's slow drift (which moves a whole 10 s run by several percent here) hits both
# alike. Each round restarts the pair with the start order and ports swapped, so neither mode keeps
# a position advantage. Prints req/s per mode (non-stream and stream), on/off of the sums, and the
# per-round ratios.
# Env: ROUNDS=6  PAIRS=2 (slices per mode, kind and round)  SLICE=3s  GATEWAY_CPU=1  LOAD_CPU=0  MOCK_CPU=$LOAD_CPU. Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
ROUNDS="${ROUNDS:-6}"; PAIRS="${PAIRS:-2}"; SLICE="${SLICE:-3s}"; GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
WORK="$(mktemp -d /tmp/lmgate-obs-XXXX)"; PORTS=(4077 4078)
MOCK_CPU="${MOCK_CPU-$LOAD_CPU}" bash "$HERE/mock/mock.sh" start >/dev/null  # nginx beside the load, off the gateway CPU
PIDS=()
stop_gateways() { for p in "${PIDS[@]}"; do kill -- -"$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap 'stop_gateways; bash "$HERE/mock/mock.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

cp "$HERE/lmgate-bench.yaml" "$WORK/on.yaml"
printf '  request_log_path: %s/requests.jsonl\n' "$WORK" >>"$WORK/on.yaml"
cp "$HERE/lmgate-bench.yaml" "$WORK/off.yaml"
printf '  request_log_path: false\n  metrics: false\n' >>"$WORK/off.yaml"

start() {  # mode port
  setsid taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/lmgate" serve --config "$WORK/$1.yaml" --port "$2" --log-level warning >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
}
wait_up() { for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$1/health/liveliness" && return; sleep 0.05; done; echo "gateway on :$1 did not start" >&2; exit 1; }
measure() {  # port model stream duration -> req/s
  BENCH_MODEL="$2" BENCH_STREAM=$([[ $3 == true ]] && echo 1 || echo 0) BENCH_PATH=/v1/chat/completions BENCH_KEY=sk-bench \
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$4" -s "$HERE/chat.lua" "http://127.0.0.1:$1" 2>/dev/null \
    | awk '/^BENCHRESULT/{for(i=2;i<=NF;i++){split($i,a,"=");if(a[1]=="rps")print a[2]}}'
}

declare -A sum port
for round in $(seq "$ROUNDS"); do
  if (( round % 2 )); then order=(on off); else order=(off on); fi
  port[${order[0]}]=${PORTS[0]}; port[${order[1]}]=${PORTS[1]}
  start "${order[0]}" "${PORTS[0]}"; start "${order[1]}" "${PORTS[1]}"
  wait_up "${PORTS[0]}"; wait_up "${PORTS[1]}"
  for mode in "${order[@]}"; do measure "${port[$mode]}" bench-model false 2s >/dev/null; done  # warm-up
  line="round $round:"
  for kind in ns st; do
    model=bench-model; stream=false; [[ $kind == st ]] && { model=bench-model-stream; stream=true; }
    for pair in $(seq "$PAIRS"); do  # A B, then B A, ...
      modes=("${order[@]}"); (( pair % 2 )) || modes=("${order[1]}" "${order[0]}")
      for mode in "${modes[@]}"; do
        r=$(measure "${port[$mode]}" "$model" "$stream" "$SLICE")
        sum[$round.$mode.$kind]=$(echo "${sum[$round.$mode.$kind]:-0} + $r" | bc)
        sum[$mode.$kind]=$(echo "${sum[$mode.$kind]:-0} + $r" | bc)
        line="$line $mode/$kind ${r}"
      done
    done
  done
  echo "$line req/s"
  stop_gateways
done
echo
printf '| mode | non-stream req/s (c=32) | stream req/s (c=32) |\n|---|---:|---:|\n'
for mode in off on; do
  printf '| %s | %.0f | %.0f |\n' "$mode" "$(echo "${sum[$mode.ns]} / $ROUNDS / $PAIRS" | bc -l)" "$(echo "${sum[$mode.st]} / $ROUNDS / $PAIRS" | bc -l)"
done
printf '| on/off | %.3f | %.3f |\n' "$(echo "${sum[on.ns]} / ${sum[off.ns]}" | bc -l)" "$(echo "${sum[on.st]} / ${sum[off.st]}" | bc -l)"
printf '\nper-round on/off (non-stream/stream):'
for round in $(seq "$ROUNDS"); do
  printf ' %.3f/%.3f' "$(echo "${sum[$round.on.ns]} / ${sum[$round.off.ns]}" | bc -l)" "$(echo "${sum[$round.on.st]} / ${sum[$round.off.st]}" | bc -l)"
done
echo
