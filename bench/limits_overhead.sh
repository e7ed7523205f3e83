#!/usr/bin/env bash
# Cost of a key's limits and budget: the same lmgate, the same moment, authenticated with the master key
# (A) or a virtual key with rpm_limit, tpm_limit and a max_budget on a priced model (B).
#   bash bench/limits_overhead.sh            (about 2 minutes)
# As bench/keys_overhead.sh: one gateway, the load (wrk, c=32) alternating between the two keys in short
# slices, A B B A. The key's limits are far above what the run reaches (nothing is refused) and its
# budget is large, so every request of B pays the admission (one reservation) and the settlement.
# REDIS=1 starts a redis-server on port $((PORT+1)) (pinned to LOAD_CPU, beside wrk) and shares the counters there (one Lua call each).
# Prints req/s per key (non-stream and stream), limited/master of the sums and per-round ratios; any
# non-2xx answer fails the run.
# Env: ROUNDS=6  SLICE=3s  PORT=4081  REDIS=0  GATEWAY_CPU=1  LOAD_CPU=0  MOCK_CPU=$LOAD_CPU, and
# BENCH_MOCK_PORT_OFFSET / BENCH_NGINX_PREFIX to run a mock of its own beside another one (mock/mock.sh).
# Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
ROUNDS="${ROUNDS:-6}"; SLICE="${SLICE:-3s}"; GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"; REDIS="${REDIS:-0}"
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
WORK="$(mktemp -d /tmp/lmgate-limits-XXXX)"; PORT="${PORT:-4081}"
MOCK_CPU="${MOCK_CPU-$LOAD_CPU}" bash "$HERE/mock/mock.sh" start >/dev/null
PID=""; RPID=""
trap '[[ -n $PID ]] && { kill -- -"$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; [[ -n $RPID ]] && kill "$RPID" 2>/dev/null; bash "$HERE/mock/mock.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

# the bench models, priced (model_info), so the budget applies to every request of the limited key
python3 - "$HERE/lmgate-bench.yaml" "$WORK/gate.yaml" "$((18080 + ${BENCH_MOCK_PORT_OFFSET:-0}))" <<'PY'
import sys
text = open(sys.argv[1]).read().replace("127.0.0.1:18080", "127.0.0.1:" + sys.argv[3])
price = "    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}\n"
out = []
for line in text.splitlines(keepends=True):
    out.append(line)
    if line.strip().startswith("api_key: sk-fake"):
        out.append(price)
open(sys.argv[2], "w").write("".join(out))
PY
printf '  request_log_path: %s/requests.jsonl\n' "$WORK" >>"$WORK/gate.yaml"
if [[ $REDIS == 1 ]]; then
  taskset -c "$LOAD_CPU" redis-server --port $((PORT + 1)) --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
  RPID=$!
  printf 'router_settings:\n  redis_host: 127.0.0.1\n  redis_port: %s\n' $((PORT + 1)) >>"$WORK/gate.yaml"
fi
export LMGATE_STATE_DIR="$WORK/state"  # the keys' SQLite file (and spend log) lives here
VKEY=$("$REPO/.venv/bin/lmgate" keys create --config "$WORK/gate.yaml" --alias bench-limited --rpm-limit 100000000 \
  --tpm-limit 1000000000 --max-budget 1000000 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
setsid taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/lmgate" serve --config "$WORK/gate.yaml" --port "$PORT" --log-level warning >"$WORK/gate.log" 2>&1 &
PID=$!
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health/liveliness" && break; sleep 0.05; done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/health/liveliness" || { echo "lmgate did not start:" >&2; cat "$WORK/gate.log" >&2; exit 1; }
for k in sk-bench "$VKEY"; do  # one real answer per key before measuring
  curl -fsS -o /dev/null -H "Authorization: Bearer $k" -H 'content-type: application/json' \
    -d '{"model":"bench-model","messages":[{"role":"user","content":"hi"}]}' "http://127.0.0.1:$PORT/v1/chat/completions" \
    || { echo "a request failed; gateway log:" >&2; cat "$WORK/gate.log" >&2; exit 1; }
done

measure() {  # key model stream duration -> req/s (exits on any error answer)
  local out
  out=$(BENCH_MODEL="$2" BENCH_STREAM=$([[ $3 == true ]] && echo 1 || echo 0) BENCH_PATH=/v1/chat/completions BENCH_KEY="$1" \
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$4" -s "$HERE/chat.lua" "http://127.0.0.1:$PORT" 2>/dev/null | grep '^BENCHRESULT')
  [[ $out == *"err_status=0 "* ]] || { echo "error answers: $out" >&2; exit 1; }
  awk '{for(i=2;i<=NF;i++){split($i,a,"=");if(a[1]=="rps")print a[2]}}' <<<"$out"
}

declare -A sum key=([master]=sk-bench [limited]="$VKEY")
for mode in master limited; do measure "${key[$mode]}" bench-model false 2s >/dev/null; done  # warm-up
for round in $(seq "$ROUNDS"); do
  line="round $round:"
  for kind in ns st; do
    model=bench-model; stream=false; [[ $kind == st ]] && { model=bench-model-stream; stream=true; }
    for mode in master limited limited master; do
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
for mode in master limited; do
  printf '| %s | %.0f | %.0f |\n' "$mode" "$(echo "${sum[$mode.ns]} / $ROUNDS / 2" | bc -l)" "$(echo "${sum[$mode.st]} / $ROUNDS / 2" | bc -l)"
done
printf '| limited/master | %.3f | %.3f |\n' "$(echo "${sum[limited.ns]} / ${sum[master.ns]}" | bc -l)" "$(echo "${sum[limited.st]} / ${sum[master.st]}" | bc -l)"
printf '\nper-round limited/master (non-stream/stream):'
for round in $(seq "$ROUNDS"); do
  printf ' %.3f/%.3f' "$(echo "${sum[$round.limited.ns]} / ${sum[$round.master.ns]}" | bc -l)" "$(echo "${sum[$round.limited.st]} / ${sum[$round.master.st]}" | bc -l)"
done
echo
