#!/usr/bin/env bash
# Cost of observability: lmgate with metrics + request log ON vs both OFF, same mock, same run.
#   bash bench/obs_overhead.sh            (about 4 minutes; ROUNDS=4 alternations by default)
# Prints req/s at c=32 (non-stream and stream) per mode, the ratio on/off of the sums and the
# per-round ratios (on this kind of VM one round's ratio moves by about ±1.5%).
# Env: ROUNDS=4  DUR=10s  GATEWAY_CPU=1  LOAD_CPU=0  MOCK_CPU=$LOAD_CPU. Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
ROUNDS="${ROUNDS:-4}"; DUR="${DUR:-10s}"; GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
WORK="$(mktemp -d /tmp/lmgate-obs-XXXX)"; PORT=4077; BASE="http://127.0.0.1:$PORT"
MOCK_CPU="${MOCK_CPU-$LOAD_CPU}" bash "$HERE/mock/mock.sh" start >/dev/null  # nginx beside the load, off the gateway CPU
trap 'bash "$HERE/mock/mock.sh" stop >/dev/null 2>&1 || true; [[ -n "${GPID:-}" ]] && kill -- -"$GPID" 2>/dev/null || true' EXIT

cp "$HERE/lmgate-bench.yaml" "$WORK/on.yaml"
printf '  request_log_path: %s/requests.jsonl\n' "$WORK" >>"$WORK/on.yaml"
cp "$HERE/lmgate-bench.yaml" "$WORK/off.yaml"
printf '  request_log_path: false\n  metrics: false\n' >>"$WORK/off.yaml"

measure() {  # mode model stream -> req/s
  local body="{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":$3}"
  BENCH_MODEL="$2" BENCH_STREAM=$([[ $3 == true ]] && echo 1 || echo 0) BENCH_PATH=/v1/chat/completions BENCH_KEY=sk-bench \
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$DUR" -s "$HERE/chat.lua" "$BASE" 2>/dev/null | awk '/^BENCHRESULT/{for(i=2;i<=NF;i++){split($i,a,"=");if(a[1]=="rps")print a[2]}}'
}

declare -A sum
for round in $(seq "$ROUNDS"); do
  for mode in on off; do
    setsid taskset -c "$GATEWAY_CPU" "$REPO/.venv/bin/lmgate" serve --config "$WORK/$mode.yaml" --port $PORT --log-level warning >"$WORK/$mode.log" 2>&1 &
    GPID=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "$BASE/health/liveliness" && break; sleep 0.05; done
    measure "$mode" bench-model false >/dev/null  # warm-up
    ns=$(measure "$mode" bench-model false); st=$(measure "$mode" bench-model-stream true)
    echo "round $round $mode: non-stream ${ns} req/s, stream ${st} req/s"
    sum[$round.$mode.ns]=$ns; sum[$round.$mode.st]=$st
    sum[$mode.ns]=$(echo "${sum[$mode.ns]:-0} + $ns" | bc); sum[$mode.st]=$(echo "${sum[$mode.st]:-0} + $st" | bc)
    kill -- -"$GPID"; wait "$GPID" 2>/dev/null || true; GPID=""
  done
done
echo
printf '| mode | non-stream req/s (c=32) | stream req/s (c=32) |\n|---|---:|---:|\n'
for mode in off on; do
  printf '| %s | %.0f | %.0f |\n' "$mode" "$(echo "${sum[$mode.ns]} / $ROUNDS" | bc -l)" "$(echo "${sum[$mode.st]} / $ROUNDS" | bc -l)"
done
printf '| on/off | %.3f | %.3f |\n' "$(echo "${sum[on.ns]} / ${sum[off.ns]}" | bc -l)" "$(echo "${sum[on.st]} / ${sum[off.st]}" | bc -l)"
printf '\nper-round on/off (non-stream, stream):'
for round in $(seq "$ROUNDS"); do
  printf ' %.3f/%.3f' "$(echo "${sum[$round.on.ns]} / ${sum[$round.off.ns]}" | bc -l)" "$(echo "${sum[$round.on.st]} / ${sum[$round.off.st]}" | bc -l)"
done
echo
rm -rf "$WORK"
