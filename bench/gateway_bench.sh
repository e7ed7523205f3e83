#!/usr/bin/env bash
# Start a gateway, time its startup, sample RSS, run run.sh through it, stop it.
#   usage: gateway_bench.sh LABEL BASE_URL HEALTH_PATH -- gateway command...
#   e.g.   gateway_bench.sh litellm http://127.0.0.1:4000 /health/liveliness -- \
#            /tmp/litellm-venv/bin/litellm --config litellm-config.yaml --host 127.0.0.1 --port 4000 --num_workers 1
# Env: GATEWAY_CPU (taskset CPU list for the gateway, e.g. 1), GATEWAY_ENV (file to source first),
#      REPEATS (run.sh passes against the same instance, default 1), SETTLE_S (idle wait before the
#      idle RSS sample, default 5), STARTUP_TIMEOUT_S (default 180), TTFB_N (if > 0, run ttfb.py
#      with that many streamed requests after the load passes; TTFB_PATH, default /v1/chat/completions);
#      all run.sh env vars pass through.
# The gateway runs in its own session (setsid); it is stopped with SIGTERM (then SIGKILL) sent to
# that process group only, by the PID this script started.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
LABEL="$1"; BASE="$2"; HEALTH="$3"; shift 3; [[ "${1:-}" == "--" ]] && shift
REPEATS="${REPEATS:-1}"; SETTLE_S="${SETTLE_S:-5}"; STARTUP_TIMEOUT_S="${STARTUP_TIMEOUT_S:-180}"
RESULTS_DIR="${RESULTS_DIR:-${TMPDIR:-/tmp}/lmgate-bench-results}"; mkdir -p "$RESULTS_DIR"; export RESULTS_DIR
LOG="$RESULTS_DIR/gateway-$LABEL-$(date +%Y%m%dT%H%M%S).log"
[[ -n "${GATEWAY_ENV:-}" ]] && source "$GATEWAY_ENV"
PIN=(); [[ -n "${GATEWAY_CPU:-}" ]] && PIN=(taskset -c "$GATEWAY_CPU")

tree_pids() {  # PID and all its descendants
  ps -e -o pid=,ppid= | awk -v root="$1" '{p[$1]=$2} END{n=1; s[root]=1; ch=1;
    while(ch){ch=0; for(k in p) if(!(k in s) && (p[k] in s)){s[k]=1; ch=1}} for(k in s) print k}'
}
tree_rss_mb() { local pids; pids="$(tree_pids "$1" | paste -sd,)"; ps -o rss= -p "$pids" | awk '{s+=$1} END{printf "%.1f", s/1024}'; }
tree_cpu_s() { local t=0 p; for p in $(tree_pids "$1"); do [[ -r /proc/$p/stat ]] && t=$(( t + $(awk '{print $14+$15}' /proc/$p/stat) )); done; echo "scale=2; $t/$(getconf CLK_TCK)" | bc; }

GPID=""
stop_gw() {
  [[ -z "$GPID" ]] && return 0
  kill -TERM -- "-$GPID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$GPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$GPID" 2>/dev/null || true; GPID=""
}
trap stop_gw EXIT INT TERM

if curl -s -o /dev/null "$BASE$HEALTH"; then echo "something already answers on $BASE" >&2; exit 1; fi
echo "starting: ${PIN[*]} $*  (log: $LOG)" >&2
T0=$(date +%s.%N)
setsid "${PIN[@]}" "$@" >"$LOG" 2>&1 < /dev/null &
GPID=$!
UP=""
while :; do
  if curl -fsS -o /dev/null -m 2 "$BASE$HEALTH" 2>/dev/null; then UP=$(echo "$(date +%s.%N) - $T0" | bc); break; fi
  kill -0 "$GPID" 2>/dev/null || { echo "gateway exited during startup; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
  (( $(echo "$(date +%s.%N) - $T0 > $STARTUP_TIMEOUT_S" | bc) )) && { echo "startup timeout" >&2; exit 1; }
  sleep 0.02
done
printf 'startup_s=%.2f  (first 200 from %s)\n' "$UP" "$HEALTH"
sleep "$SETTLE_S"
RSS_IDLE=$(tree_rss_mb "$GPID"); CPU0=$(tree_cpu_s "$GPID")
echo "rss_idle_mb=$RSS_IDLE  (process tree of pid $GPID: $(tree_pids "$GPID" | wc -l) processes)"
for i in $(seq "$REPEATS"); do
  echo "--- pass $i/$REPEATS"
  "$HERE/run.sh" "$BASE" "$LABEL"
done
if (( ${TTFB_N:-0} > 0 )); then
  TPIN=(); [[ -n "${LOAD_CPU:-}" ]] && TPIN=(taskset -c "$LOAD_CPU")
  "${TPIN[@]}" python3 "$HERE/ttfb.py" "$BASE" "$LABEL" -n "$TTFB_N" --path "${TTFB_PATH:-/v1/chat/completions}" \
    --key "${KEY:-sk-bench}" --model "${STREAM_MODEL:-bench-model-stream}" | tee -a "$RESULTS_DIR/ttfb.txt"
fi
RSS_AFTER=$(tree_rss_mb "$GPID"); CPU1=$(tree_cpu_s "$GPID")
echo "rss_after_load_mb=$RSS_AFTER  gateway_cpu_s_during_load=$(echo "$CPU1 - $CPU0" | bc)"
printf '%s\t%s\tstartup_s=%.2f\trss_idle_mb=%s\trss_after_mb=%s\trepeats=%s\n' "$(date +%Y%m%dT%H%M%S)" "$LABEL" "$UP" "$RSS_IDLE" "$RSS_AFTER" "$REPEATS" >>"$RESULTS_DIR/gateways.tsv"
stop_gw
