#!/usr/bin/env bash
# Cost of a virtual key: the same lmgate, the same moment, authenticated with the master key (A) or a
# virtual key with a model allow-list (B).
#   bash bench/keys_overhead.sh            (about 2 minutes)
# One gateway; the load (wrk, c=32) alternates between the two keys in short slices, A B B A, so the
# VM's drift hits both alike and nothing differs but the key. The virtual key is made in the bench's own
# SQLite file before the gateway starts (it is then served from the in-process cache: no database
# round trip per request). Prints req/s per key (non-stream and stream), virtual/master of the sums,
# and per-round ratios; any non-2xx answer fails the run.
# Env: ROUNDS=6  SLICE=3s  PORT=4079  GATEWAY_CPU=1  LOAD_CPU=0  MOCK_CPU=$LOAD_CPU. Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
ROUNDS="${ROUNDS:-6}"; SLICE="${SLICE:-3s}"; GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
WORK="$(mktemp -d /tmp/lmgate-keys-XXXX)"; PORT="${PORT:-4079}"
MOCK_CPU="${MOCK_CPU-$LOAD_CPU}" bash "$HERE/mock/mock.sh" start >/dev/null
PID=""
trap '[[ -n $PID ]] && { kill -- -"$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; bash "$HERE/mock/mock.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

cp "$HERE/lmgate-bench.yaml" "$WORK/gate.yaml"
printf '  request_log_path: %s/requests.jsonl\n' "$WORK" >>"$WORK/gate.yaml"
export LMGATE_STATE_DIR="$WORK/state"  # the keys' SQLite file lives here
VKEY=$("$REPO/.venv/bin/lmgate" keys create --config "$WORK/gate.yaml" --alias bench --models 'bench-*' --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
setsid taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/lmgate" serve --config "$WORK/gate.yaml" --port "$PORT" --log-level warning >"$WORK/gate.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health/liveliness" && break; sleep 0.05; done

measure() {  # key model stream duration -> req/s (exits on any error answer)
  local out
  out=$(BENCH_MODEL="$2" BENCH_STREAM=$([[ $3 == true ]] && echo 1 || echo 0) BENCH_PATH=/v1/chat/completions BENCH_KEY="$1" \
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$4" -s "$HERE/chat.lua" "http://127.0.0.1:$PORT" 2>/dev/null | grep '^BENCHRESULT')
  [[ $out == *"err_status=0 "* ]] || { echo "error answers: $out" >&2; exit 1; }
  awk '{for(i=2;i<=NF;i++){split($i,a,"=");if(a[1]=="rps")print a[2]}}' <<<"$out"
}

declare -A sum key=([master]=sk-bench [virtual]="$VKEY")
for mode in master virtual; do measure "${key[$mode]}" bench-model false 2s >/dev/null; done  # warm-up
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for kind in ns st; do
    model=bench-model; stream=false; [[ $kind == st ]] && { model=bench-model-stream; stream=true; }
    for mode in master virtual virtual master; do
      r=$(measure "${key[$mode]}" "$model" "$stream" "$SLICE")
      sum[$round.$mode.$kind]=$(echo "${sum[$round.$mode.$kind]:-0} + $r" | bc)
      sum[$mode.$kind]=$(echo "${sum[$mode.$kind]:-0} + $r" | bc)
      line="$line $mode/$kind ${r}"
    done
  done
  echo "$line req/s"
done
echo
printf '| key | non-stream req/s (c=32) | stream req/s (c=32) |\n|---|---:|---:|\n'
for mode in master virtual; do
  printf '| %s | %.0f | %.0f |\n' "$mode" "$(echo "${sum[$mode.ns]} / $ROUNDS / 2" | bc -l)" "$(echo "${sum[$mode.st]} / $ROUNDS / 2" | bc -l)"
done
printf '| virtual/master | %.3f | %.3f |\n' "$(echo "${sum[virtual.ns]} / ${sum[master.ns]}" | bc -l)" "$(echo "${sum[virtual.st]} / ${sum[master.st]}" | bc -l)"
printf '\nper-round virtual/master (non-stream/stream):'
for round in $(seq "$ROUNDS"); do
  printf ' %.3f/%.3f' "$(echo "${sum[$round.virtual.ns]} / ${sum[$round.master.ns]}" | bc -l)" "$(echo "${sum[$round.virtual.st]} / ${sum[$round.master.st]}" | bc -l)"
done
echo
