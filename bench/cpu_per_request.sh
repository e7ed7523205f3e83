#!/usr/bin/env bash
# Gateway CPU time per request, lmgate beside the Python floor: a figure that a busy machine moves far
# less than req/s (other processes take turns on the core, they do not make our instructions slower by
# much), for iterating on the hot path while the box is shared. Not a substitute for floor.sh's
# alternating throughput, which is the figure of record.
#   bash bench/cpu_per_request.sh           (about 1 minute; KEY=master for the master key)
# Both run at once pinned to GATEWAY_CPU; wrk (c=32) loads each in turn for SLICE, ROUNDS times, and the
# CPU seconds (utime+stime of the process group, /proc) are divided by the requests answered.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
ROUNDS="${ROUNDS:-3}"; SLICE="${SLICE:-4s}"; GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
WORK="$(mktemp -d /tmp/lmgate-cpu-XXXX)"
MOCK_CPU="${MOCK_CPU-$LOAD_CPU}" bash "$HERE/mock/mock.sh" start >/dev/null
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -- -"$p" 2>/dev/null || true; done; bash "$HERE/mock/mock.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
source "$HERE/vkey_setup.sh" "$WORK"
setsid taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/lmgate" serve --config "$WORK/gate.yaml" --port 4081 --log-level warning >"$WORK/lmgate.log" 2>&1 &
PIDS+=($!)
setsid taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/python" "$HERE/pyfloor.py" 4082 >"$WORK/floor.log" 2>&1 &
PIDS+=($!)
for port in 4081 4082; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/health/liveliness" && break; sleep 0.05; done
done
declare -A PGID=([lmgate]=${PIDS[0]} [floor]=${PIDS[1]}) PORT=([lmgate]=4081 [floor]=4082) KEYS=([lmgate]="$BENCH_KEY" [floor]=sk-bench)
cpu_ticks() {  # process group -> utime+stime in clock ticks
  local total=0 pid
  for pid in $(pgrep -g "$1"); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)
declare -A ticks reqs
run() {  # setup model stream
  local before after out n
  before=$(cpu_ticks "${PGID[$1]}")
  out=$(BENCH_MODEL="$2" BENCH_STREAM="$3" BENCH_PATH=/v1/chat/completions BENCH_KEY="${KEYS[$1]}" \
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$SLICE" -s "$HERE/chat.lua" "http://127.0.0.1:${PORT[$1]}" 2>/dev/null | grep '^BENCHRESULT')
  [[ $out == *"err_status=0 "* ]] || { echo "$1: error answers: $out" >&2; exit 1; }
  after=$(cpu_ticks "${PGID[$1]}")
  n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
  ticks[$1.$3]=$(( ${ticks[$1.$3]:-0} + after - before )); reqs[$1.$3]=$(( ${reqs[$1.$3]:-0} + n ))
}
for s in lmgate floor; do run "$s" bench-model 0; done  # warm-up
ticks=(); reqs=()
for _ in $(seq "$ROUNDS"); do
  for s in lmgate floor; do run "$s" bench-model 0; run "$s" bench-model-stream 1; done
done
printf '| set-up | non-stream CPU us/request | stream CPU us/request |\n|---|---:|---:|\n'
for s in floor lmgate; do
  printf '| %s | %.1f | %.1f |\n' "$s" "$(echo "${ticks[$s.0]} * 1000000 / $HZ / ${reqs[$s.0]}" | bc -l)" "$(echo "${ticks[$s.1]} * 1000000 / $HZ / ${reqs[$s.1]}" | bc -l)"
done
printf '| floor/lmgate | %.3f | %.3f |\n' \
  "$(echo "(${ticks[floor.0]} / ${reqs[floor.0]}) / (${ticks[lmgate.0]} / ${reqs[lmgate.0]})" | bc -l)" \
  "$(echo "(${ticks[floor.1]} / ${reqs[floor.1]}) / (${ticks[lmgate.1]} / ${reqs[lmgate.1]})" | bc -l)"
