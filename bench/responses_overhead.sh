#!/usr/bin/env bash
# Cost of the Responses API translation: the same small request as chat completions (pass-through to the
# OpenAI-compatible mock) and as /v1/responses (translated both ways; store false, then store true with a
# SQLite response store), through ONE lmgate, in the same run.
#   bash bench/responses_overhead.sh            (about 2 minutes)
# The load alternates between the three paths in short slices so the VM's drift hits all alike. Prints
# req/s at c=32 per path (non-stream and stream) and CPU per request relative to chat (= chat req/s over
# the path's req/s on the pinned gateway CPU; the issue's bound is <= 2), then c=1 p50 latency.
# Env: ROUNDS=3  SLICE=3s  C1_DUR=5s  GATEWAY_CPU=1  LOAD_CPU=0. Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
ROUNDS="${ROUNDS:-3}"; SLICE="${SLICE:-3s}"; C1_DUR="${C1_DUR:-5s}"; GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
WORK="$(mktemp -d /tmp/lmgate-resp-XXXX)"; PORT=4079
MOCK_CPU="$LOAD_CPU" bash "$HERE/mock/mock.sh" start >/dev/null
GW=""
trap '[[ -n $GW ]] && kill -- -"$GW" 2>/dev/null; bash "$HERE/mock/mock.sh" stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
cp "$HERE/lmgate-bench.yaml" "$WORK/config.yaml"
printf '  request_log_path: false\n  database_url: sqlite:///%s/responses.db\n' "$WORK" >>"$WORK/config.yaml"
setsid taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/lmgate" serve --config "$WORK/config.yaml" --port "$PORT" --log-level warning >"$WORK/gw.log" 2>&1 &
GW=$!
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health/liveliness" && break; sleep 0.05; done

run() {  # path-mode model stream duration conns -> "rps p50_ms"
  local script=chat.lua store=0
  case "$1" in responses) script=responses.lua ;; responses-store) script=responses.lua store=1 ;; esac
  BENCH_DIR="$HERE" BENCH_MODEL="$2" BENCH_STREAM=$([[ $3 == true ]] && echo 1 || echo 0) BENCH_STORE=$store \
    BENCH_PATH=/v1/chat/completions BENCH_KEY=sk-bench \
    taskset -c "$LOAD_CPU" wrk -t1 -c"$5" -d"$4" --latency -s "$HERE/$script" "http://127.0.0.1:$PORT" 2>/dev/null \
    | awk '/^BENCHRESULT/{for(i=2;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}; if (v["err_status"]>0) print "ERR"; else print v["rps"], v["p50_ms"]}'
}

PATHS=(chat responses responses-store)
for p in "${PATHS[@]}"; do run "$p" bench-model false 2s 32 >/dev/null; done  # warm-up
declare -A sum lat
for round in $(seq "$ROUNDS"); do
  for kind in ns st; do
    model=bench-model; stream=false; [[ $kind == st ]] && { model=bench-model-stream; stream=true; }
    for p in "${PATHS[@]}"; do
      read -r rps _ <<<"$(run "$p" "$model" "$stream" "$SLICE" 32)"
      [[ $rps == ERR ]] && { echo "errors on $p/$kind: see $WORK/gw.log" >&2; exit 1; }
      sum[$p.$kind]=$(echo "${sum[$p.$kind]:-0} + $rps" | bc)
    done
  done
done
for kind in ns st; do
  model=bench-model; stream=false; [[ $kind == st ]] && { model=bench-model-stream; stream=true; }
  for p in "${PATHS[@]}"; do read -r _ lat[$p.$kind] <<<"$(run "$p" "$model" "$stream" "$C1_DUR" 1)"; done
done
printf '| path | non-stream req/s (c=32) | CPU/request vs chat | stream req/s (c=32) | CPU/request vs chat | p50 ms c=1 (non-stream / stream) |\n|---|---:|---:|---:|---:|---:|\n'
for p in "${PATHS[@]}"; do
  printf '| %s | %.0f | %.2f | %.0f | %.2f | %s / %s |\n' "$p" \
    "$(echo "${sum[$p.ns]} / $ROUNDS" | bc -l)" "$(echo "${sum[chat.ns]} / ${sum[$p.ns]}" | bc -l)" \
    "$(echo "${sum[$p.st]} / $ROUNDS" | bc -l)" "$(echo "${sum[chat.st]} / ${sum[$p.st]}" | bc -l)" "${lat[$p.ns]}" "${lat[$p.st]}"
done
