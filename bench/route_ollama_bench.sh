#!/usr/bin/env bash
# Ollama paths (issue 3) and router costs (issue 4), in one run against loopback mocks.
#
#   bash bench/route_ollama_bench.sh          (about 8 minutes; PARTS=... to run a subset)
#
# Parts (PARTS="ollama failover scale"):
#   ollama    wrk c=1 (latency) and c=32 (req/s), non-stream and stream, for
#               direct-ollama  wrk -> nginx Ollama mock POST /api/chat (ollama.lua)
#               passthrough    Ollama client (ollama.lua) -> lmgate /api/chat -> Ollama mock
#               translated     OpenAI client (chat.lua) -> lmgate /v1/chat/completions -> Ollama mock
#               openai-lmgate  OpenAI client -> lmgate -> OpenAI mock, and direct-openai (reference)
#   failover  route_probe.py, sequential, aliases interleaved on one connection:
#               dead-first(-stream): first tier = closed port, fallback = mock, vs the mock alias
#               hang-first(-stream): first tier = hang_server.py (accepts, never answers) with
#               stream_timeout (timeout for non-stream) = STREAM_TIMEOUT, fallback = mock
#             with cooldowns off (every request pays for the dead tier) and, shorter, with defaults
#   scale     one alias with 1 deployment vs one with 50 (all -> the mock), wrk c=32 alternated
#             one/fifty SCALE_ROUNDS times, plus route_probe c=1, for each routing strategy
# Prints the tables (route_ollama_summary.py) and writes them to $RESULTS_DIR/summary.md.
#
# Everything listens on 127.0.0.1, on ports of its own so it can run beside bench/run_bench.sh:
# mock = bench/mock with BENCH_MOCK_PORT_OFFSET=100 (OpenAI 18180, Ollama NDJSON 18182, JSON 18183;
# state in /tmp/bench-nginx-ro), hang_server.py 18190, a closed port 18199, lmgate on PORT=4100.
# Env (defaults): GATEWAY_CPU=1 LOAD_CPU=0 MOCK_CPU=0  C1_DUR=8s CH_DUR=10s WARMUP=2s HIGH_C=32
#   PROBE_N=300 (failover requests per alias)  HANG_N=20  STREAM_TIMEOUT=0.5
#   SCALE_DUR=8s SCALE_ROUNDS=2 SCALE_N=50  STRATEGIES="simple-shuffle least-busy latency-based-routing usage-based-routing"
#   LMGATE_REF= (a git ref: bench that commit's src/lmgate, as in run_bench.sh)  RESULTS_DIR=/tmp/lmgate-bench-results/ro-<ts>
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$HERE"
PARTS="${PARTS:-ollama failover scale}"
GATEWAY_CPU="${GATEWAY_CPU-1}"; LOAD_CPU="${LOAD_CPU-0}"; MOCK_CPU="${MOCK_CPU-0}"
C1_DUR="${C1_DUR:-8s}"; CH_DUR="${CH_DUR:-10s}"; WARMUP="${WARMUP:-2s}"; HIGH_C="${HIGH_C:-32}"
PROBE_N="${PROBE_N:-300}"; HANG_N="${HANG_N:-20}"; export STREAM_TIMEOUT="${STREAM_TIMEOUT:-0.5}"
SCALE_DUR="${SCALE_DUR:-8s}"; SCALE_ROUNDS="${SCALE_ROUNDS:-2}"; SCALE_N="${SCALE_N:-50}"
STRATEGIES="${STRATEGIES:-simple-shuffle least-busy latency-based-routing usage-based-routing}"
PORT="${PORT:-4100}"; BASE="http://127.0.0.1:$PORT"
OFF=100; export BENCH_MOCK_PORT_OFFSET=$OFF BENCH_NGINX_PREFIX=/tmp/bench-nginx-ro
export MOCK_OPENAI=$((18080 + OFF)) MOCK_OLLAMA_STREAM=$((18082 + OFF)) MOCK_OLLAMA_JSON=$((18083 + OFF))
export HANG_PORT=18190 CLOSED_PORT=18199
export RESULTS_DIR="${RESULTS_DIR:-/tmp/lmgate-bench-results/ro-$(date +%Y%m%dT%H%M%S)}"
mkdir -p "$RESULTS_DIR"
TSV="$RESULTS_DIR/wrk.tsv"; PROBES="$RESULTS_DIR/probes.txt"; RAW="$RESULTS_DIR/raw.txt"
LMGATE="$REPO/.venv/bin/lmgate"
PIN_LOAD=(); [[ -n "$LOAD_CPU" ]] && PIN_LOAD=(taskset -c "$LOAD_CPU")
PIN_GW=(); [[ -n "$GATEWAY_CPU" ]] && PIN_GW=(taskset -c "$GATEWAY_CPU")

# --- prerequisites (as run_bench.sh) -------------------------------------------------------------
source "$HERE/lib.sh"
ensure_tools nginx wrk curl taskset
[[ -x "$LMGATE" ]] || make -C "$REPO" .venv/.installed-stamp
LMGATE_DESC="working tree $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
if [[ -n "${LMGATE_REF:-}" ]]; then
  git -C "$REPO" archive "$LMGATE_REF" src/lmgate | tar -x -C "$RESULTS_DIR"
  export PYTHONPATH="$RESULTS_DIR/src${PYTHONPATH:+:$PYTHONPATH}"
  LMGATE_DESC="$LMGATE_REF = $(git -C "$REPO" rev-parse --short "$LMGATE_REF")"
fi
export LMGATE_STATE_DIR="${LMGATE_STATE_DIR:-$RESULTS_DIR/state}"
# a mock left over from an earlier run of this script (its own prefix) is stopped; anything else on
# our ports is someone else's and stops the run
if [[ -f /tmp/bench-nginx-ro/nginx.pid ]] && kill -0 "$(cat /tmp/bench-nginx-ro/nginx.pid)" 2>/dev/null; then
  ./mock/mock.sh stop >/dev/null; sleep 0.5
fi
for p in "$PORT" "$MOCK_OPENAI" "$MOCK_OLLAMA_STREAM" "$MOCK_OLLAMA_JSON" "$HANG_PORT" "$CLOSED_PORT"; do
  if curl -s -o /dev/null -m 1 "http://127.0.0.1:$p/"; then echo "port $p is busy; stop whatever listens there" >&2; exit 1; fi
done

# --- processes: mock, hang server, gateway (each stopped by the PID started here) -----------------
GPID=""; HPID=""; MOCK_UP=0
stop_gw() {
  [[ -z "$GPID" ]] && return 0
  kill -TERM -- "-$GPID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$GPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$GPID" 2>/dev/null || true; GPID=""
}
cleanup() {
  stop_gw
  [[ -n "$HPID" ]] && { kill -TERM "$HPID" 2>/dev/null || true; wait "$HPID" 2>/dev/null || true; HPID=""; }
  (( MOCK_UP )) && { ./mock/mock.sh stop >/dev/null 2>&1 || true; MOCK_UP=0; }
}
trap cleanup EXIT INT TERM

start_gw() {  # CONFIG LABEL
  local cfg="$1" label="$2" t0
  t0=$(date +%s%N)
  setsid "${PIN_GW[@]}" "$LMGATE" serve --config "$cfg" --host 127.0.0.1 --port "$PORT" --workers 1 \
    >"$RESULTS_DIR/gateway-$label.log" 2>&1 </dev/null &
  GPID=$!
  for _ in $(seq 300); do
    curl -fsS -o /dev/null -m 1 "$BASE/health/liveliness" 2>/dev/null && return 0
    kill -0 "$GPID" 2>/dev/null || break
    sleep 0.05
  done
  echo "gateway did not start; see $RESULTS_DIR/gateway-$label.log" >&2; tail -20 "$RESULTS_DIR/gateway-$label.log" >&2; exit 1
}

MOCK_CPU="$MOCK_CPU" ./mock/mock.sh start >/dev/null; MOCK_UP=1
{
  echo "date: $(date -Is)  host cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "lmgate: $LMGATE_DESC  nginx: $(nginx -v 2>&1)  wrk: $(wrk -v 2>&1 | head -1)"
  echo "cpu layout: gateway=$GATEWAY_CPU wrk/probes=$LOAD_CPU nginx=$MOCK_CPU  stream_timeout=$STREAM_TIMEOUT"
} | tee "$RESULTS_DIR/env.txt"
printf 'part\tlabel\tmode\tconc\trequests\trps\tp50_ms\tp90_ms\tp99_ms\terrors\n' >"$TSV"
: >"$PROBES"

wrk_one() {  # PART LABEL MODE SCRIPT URL MODEL PATH CONC DUR [warmup]
  local part="$1" label="$2" mode="$3" script="$4" url="$5" c="$8" d="$9" tag="${10:-}" out line kv errs
  export BENCH_MODEL="$6" BENCH_PATH="$7" BENCH_KEY=sk-bench BENCH_STREAM=$([[ $mode == stream ]] && echo 1 || echo 0)
  echo "### $part $label $mode c=$c d=$d $tag model=$6 $url$7" >>"$RAW"
  out="$("${PIN_LOAD[@]}" wrk -t1 -c"$c" -d"$d" --latency --timeout 10s -s "$HERE/$script" "$url" 2>&1)"
  echo "$out" >>"$RAW"
  [[ -n "$tag" ]] && return 0
  line="$(grep '^BENCHRESULT' <<<"$out" || true)"
  [[ -n "$line" ]] || { echo "wrk gave no BENCHRESULT ($part $label $mode c=$c): $out" >&2; return 1; }
  local -A r; for kv in ${line#BENCHRESULT }; do r["${kv%%=*}"]="${kv#*=}"; done
  errs=$(( r[err_connect] + r[err_read] + r[err_write] + r[err_status] + r[err_timeout] ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$part" "$label" "$mode" "$c" "${r[requests]}" "${r[rps]}" \
    "${r[p50_ms]}" "${r[p90_ms]}" "${r[p99_ms]}" "$errs" | tee -a "$TSV"
}
check() {  # URL PATH BODY GREP -- one request with curl; abort unless the answer matches
  local out; out="$(curl -sS -m 10 -H 'Authorization: Bearer sk-bench' -H 'Content-Type: application/json' -d "$3" "$1$2")"
  grep -q -- "$4" <<<"$out" || { echo "CHECK FAILED $1$2: ${out:0:300}" >&2; exit 1; }
}
probe() {  # PART LABEL route_probe args...
  local part="$1" label="$2"; shift 2
  "${PIN_LOAD[@]}" python3 "$HERE/route_probe.py" "$BASE" "$label" "$@" | sed "s/^ROUTERESULT /ROUTERESULT part=$part /" | tee -a "$PROBES"
}

# --- part 1: Ollama ------------------------------------------------------------------------------
if [[ " $PARTS " == *" ollama "* ]]; then
  echo "=== ollama: direct / pass-through / translated"
  python3 "$HERE/route_ollama_config.py" main >"$RESULTS_DIR/main.yaml"
  start_gw "$RESULTS_DIR/main.yaml" ollama
  OJ="http://127.0.0.1:$MOCK_OLLAMA_JSON"; OS="http://127.0.0.1:$MOCK_OLLAMA_STREAM"; OA="http://127.0.0.1:$MOCK_OPENAI"
  check "$BASE" /api/chat '{"model":"ollama-bench","messages":[{"role":"user","content":"hi"}],"stream":false}' '"done":true'
  check "$BASE" /api/chat '{"model":"ollama-bench-stream","messages":[{"role":"user","content":"hi"}]}' '"eval_duration"'
  check "$BASE" /v1/chat/completions '{"model":"ollama-bench","messages":[{"role":"user","content":"hi"}]}' '"chat.completion"'
  check "$BASE" /v1/chat/completions '{"model":"ollama-bench-stream","messages":[{"role":"user","content":"hi"}],"stream":true}' 'data: \[DONE\]'
  for mode in nonstream stream; do
    if [[ $mode == stream ]]; then ou="$OS" om=ollama-bench-stream bm=bench-model-stream opath=/v1/stream/chat/completions
    else ou="$OJ" om=ollama-bench bm=bench-model opath=/v1/chat/completions; fi
    #        label          script      url      model  path
    targets=("direct-ollama ollama.lua $ou $om /api/chat"
             "passthrough   ollama.lua $BASE $om /api/chat"
             "translated    chat.lua   $BASE $om /v1/chat/completions"
             "openai-lmgate chat.lua   $BASE $bm /v1/chat/completions"
             "direct-openai chat.lua   $OA $bm $opath")
    for t in "${targets[@]}"; do
      read -r label script url model path <<<"$t"
      wrk_one ollama "$label" "$mode" "$script" "$url" "$model" "$path" "$HIGH_C" "$WARMUP" warmup
      wrk_one ollama "$label" "$mode" "$script" "$url" "$model" "$path" 1 "$C1_DUR"
      wrk_one ollama "$label" "$mode" "$script" "$url" "$model" "$path" "$HIGH_C" "$CH_DUR"
    done
  done
  stop_gw
fi

# --- part 2: failover (closed port) and hang (stream_timeout) -------------------------------------
if [[ " $PARTS " == *" failover "* ]]; then
  echo "=== failover: closed first tier, hanging first tier (stream_timeout=$STREAM_TIMEOUT s)"
  python3 "$HERE/hang_server.py" --port "$HANG_PORT" --max-seconds 900 >"$RESULTS_DIR/hang_server.log" 2>&1 &
  HPID=$!
  for _ in $(seq 50); do grep -q listening "$RESULTS_DIR/hang_server.log" 2>/dev/null && break; sleep 0.05; done
  for cd in off on; do
    if [[ $cd == off ]]; then python3 "$HERE/route_ollama_config.py" main >"$RESULTS_DIR/failover-off.yaml"; n=$PROBE_N; hn=$HANG_N
    else python3 "$HERE/route_ollama_config.py" main --cooldowns >"$RESULTS_DIR/failover-on.yaml"; n=$(( PROBE_N / 3 )); hn=$HANG_N; fi
    start_gw "$RESULTS_DIR/failover-$cd.yaml" "failover-cooldowns-$cd"
    ex() { [[ $cd == off ]] && echo "--expect" "$1" || true; }
    probe "failover-cooldowns-$cd" closed --models bench-model,dead-first -n "$n" $(ex 'dead-first=unreachable.*>bench-model:ok')
    probe "failover-cooldowns-$cd" closed --stream --models bench-model-stream,dead-first-stream -n "$n" \
      $(ex 'dead-first-stream=unreachable.*>bench-model-stream:ok')
    probe "failover-cooldowns-$cd" hang --stream --models bench-model-stream,hang-first-stream -n "$hn" --warmup 1 \
      --max-seconds 60 $(ex 'hang-first-stream=timeout.*>bench-model-stream:ok')
    probe "failover-cooldowns-$cd" hang --models bench-model,hang-first -n "$hn" --warmup 1 --max-seconds 60 \
      $(ex 'hang-first=timeout.*>bench-model:ok')
    stop_gw
  done
  kill -TERM "$HPID" 2>/dev/null || true; wait "$HPID" 2>/dev/null || true; HPID=""
fi

# --- part 3: 1 vs 50 deployments per alias, per routing strategy ----------------------------------
if [[ " $PARTS " == *" scale "* ]]; then
  echo "=== routing overhead: 1 vs $SCALE_N deployments, c=$HIGH_C, strategies: $STRATEGIES"
  for s in $STRATEGIES; do
    python3 "$HERE/route_ollama_config.py" scale --strategy "$s" --n "$SCALE_N" >"$RESULTS_DIR/scale-$s.yaml"
    start_gw "$RESULTS_DIR/scale-$s.yaml" "scale-$s"
    check "$BASE" /v1/chat/completions '{"model":"fifty","messages":[{"role":"user","content":"hi"}]}' '"chat.completion"'
    wrk_one "scale-$s" one nonstream chat.lua "$BASE" one /v1/chat/completions "$HIGH_C" "$WARMUP" warmup
    wrk_one "scale-$s" fifty nonstream chat.lua "$BASE" fifty /v1/chat/completions "$HIGH_C" "$WARMUP" warmup
    for r in $(seq "$SCALE_ROUNDS"); do
      if (( r % 2 )); then order="one fifty"; else order="fifty one"; fi
      for a in $order; do wrk_one "scale-$s" "$a" nonstream chat.lua "$BASE" "$a" /v1/chat/completions "$HIGH_C" "$SCALE_DUR"; done
    done
    probe "scale-$s" c1 --models one,fifty -n 500 --warmup 20
    stop_gw
  done
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS_DIR/env.txt"
cleanup
echo "=== summary"
{ sed 's/^/    /' "$RESULTS_DIR/env.txt"; echo; python3 "$HERE/route_ollama_summary.py" "$RESULTS_DIR"; } | tee "$RESULTS_DIR/summary.md"
echo "(raw output in $RESULTS_DIR)"
