#!/usr/bin/env bash
# lmgate's benchmark, in one run: nginx mock upstream, then direct (no gateway), lmgate and the
# LiteLLM proxy against that same mock, one worker each, the gateway pinned to one core.
#
#   bash bench/run_bench.sh              (or `make bench`; about 6-7 minutes, 3 with SKIP_LITELLM=1)
#
# Measures per target: wrk c=1 and c=32 (non-stream and stream; p50/p90/p99 and req/s), streaming
# time to first byte (ttfb.py, 200 sequential streamed requests), and for the gateways: start-up time
# (first 200 on /health/liveliness), idle RSS and RSS after load, plus STARTS extra cold starts.
# Prints a summary table and writes it to $RESULTS_DIR/summary.md.
#
# Env (defaults):
#   SKIP_LITELLM=0      1 = lmgate and direct only (quick run)
#   SKIP_FLOOR=0        1 = no alternating run against the Python floor (floor.sh, FLOOR_ROUNDS=3)
#   REPEATS=1           run.sh passes per gateway      STARTS=3   extra cold starts per gateway
#   GATEWAY_CPU=1  LOAD_CPU=0  MOCK_CPU=0               (wrk, ttfb.py and nginx share the other core)
#   C1_DUR=10s  CH_DUR=15s  WARMUP=3s  TTFB_N=200       (see run.sh)
#   LITELLM_VENV=/tmp/litellm-venv   (created and filled on first use unless SKIP_LITELLM=1)
#   LMGATE_REF=          a git ref (e.g. HEAD): bench that commit's src/lmgate (exported with
#                        `git archive` to $RESULTS_DIR/src, put first on PYTHONPATH) instead of the
#                        working tree -- use it when the tree holds uncommitted edits
#   LMGATE_STATE_DIR=$RESULTS_DIR/state   (where lmgate's own request log goes during the run)
#   RESULTS_DIR=/tmp/lmgate-bench-results/<timestamp>
# Installs what is missing: nginx wrk bc curl (apt-get), the lmgate venv (make), LiteLLM (pip, in
# its own throwaway venv). All traffic goes to 127.0.0.1.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$HERE"

export SKIP_LITELLM="${SKIP_LITELLM:-0}" REPEATS="${REPEATS:-1}" STARTS="${STARTS:-3}"
export GATEWAY_CPU="${GATEWAY_CPU-1}" LOAD_CPU="${LOAD_CPU-0}" MOCK_CPU="${MOCK_CPU-0}"
export TTFB_N="${TTFB_N:-200}"
export RESULTS_DIR="${RESULTS_DIR:-/tmp/lmgate-bench-results/$(date +%Y%m%dT%H%M%S)}"
mkdir -p "$RESULTS_DIR"
LITELLM_VENV="${LITELLM_VENV:-/tmp/litellm-venv}"
LMGATE="$REPO/.venv/bin/lmgate"
PORT=4000; BASE="http://127.0.0.1:$PORT"

# --- prerequisites -------------------------------------------------------------------------------
source "$HERE/lib.sh"
ensure_tools nginx wrk bc curl taskset
if [[ ! -x "$LMGATE" ]]; then
  echo "lmgate venv missing: running make" >&2
  make -C "$REPO" .venv/.installed-stamp
fi
if [[ "$SKIP_LITELLM" != 1 && ! -x "$LITELLM_VENV/bin/litellm" ]]; then
  echo "installing LiteLLM into $LITELLM_VENV (takes a few minutes)" >&2
  python3 -m venv "$LITELLM_VENV"
  # newer LiteLLM releases pin a certifi the package index may lack
  echo 'certifi<=2026.10.18' > "$RESULTS_DIR/certifi-cap.txt"
  "$LITELLM_VENV/bin/pip" install -q 'litellm[proxy]' -c "$RESULTS_DIR/certifi-cap.txt"
fi
LMGATE_DESC="working tree $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
if [[ -n "${LMGATE_REF:-}" ]]; then
  mkdir -p "$RESULTS_DIR/src"
  git -C "$REPO" archive "$LMGATE_REF" src/lmgate | tar -x -C "$RESULTS_DIR"
  export PYTHONPATH="$RESULTS_DIR/src${PYTHONPATH:+:$PYTHONPATH}"
  LMGATE_DESC="$LMGATE_REF = $(git -C "$REPO" rev-parse --short "$LMGATE_REF") (exported to $RESULTS_DIR/src)"
fi
export LMGATE_STATE_DIR="${LMGATE_STATE_DIR:-$RESULTS_DIR/state}"
if curl -s -o /dev/null -m 1 "$BASE/"; then echo "port $PORT is busy; stop whatever listens there" >&2; exit 1; fi

# --- run -----------------------------------------------------------------------------------------
{
  echo "date: $(date -Is)  host cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "lmgate: $("$REPO/.venv/bin/python" -c 'import importlib.metadata as m; print(m.version("lmgate"))') ($LMGATE_DESC; imported from $("$REPO/.venv/bin/python" -c 'import lmgate, os; print(os.path.dirname(lmgate.__file__))'))"
  [[ "$SKIP_LITELLM" == 1 ]] || echo "litellm: $("$LITELLM_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
  echo "nginx: $(nginx -v 2>&1)  wrk: $(wrk -v 2>&1 | head -1)"
  echo "cpu layout: gateway=$GATEWAY_CPU wrk/ttfb=$LOAD_CPU nginx=$MOCK_CPU"
} | tee "$RESULTS_DIR/env.txt"

./mock/mock.sh stop >/dev/null 2>&1 || true; sleep 0.3
./mock/mock.sh start
trap './mock/mock.sh stop >/dev/null 2>&1 || true' EXIT

echo "=== direct (nginx mock, no gateway)"
STREAM_PATH=/v1/stream/chat/completions ./run.sh http://127.0.0.1:18080 direct
taskset -c "$LOAD_CPU" python3 ./ttfb.py http://127.0.0.1:18080 direct -n "$TTFB_N" \
  --path /v1/stream/chat/completions | tee -a "$RESULTS_DIR/ttfb.txt"

LMGATE_CMD=("$LMGATE" serve --config "$HERE/lmgate-bench.yaml" --host 127.0.0.1 --port "$PORT" --workers 1)
echo "=== lmgate"
./gateway_bench.sh lmgate "$BASE" /health/liveliness -- "${LMGATE_CMD[@]}"
echo "=== lmgate cold starts x$STARTS"
STARTUP_LABEL=lmgate-start SETTLE_S=2 ./startup_only.sh "$STARTS" "$BASE" /health/liveliness -- "${LMGATE_CMD[@]}"

if [[ "$SKIP_LITELLM" != 1 ]]; then
  LITELLM_CMD=("$LITELLM_VENV/bin/litellm" --config "$HERE/litellm-config.yaml" --host 127.0.0.1 --port "$PORT" --num_workers 1)
  echo "=== litellm"
  GATEWAY_ENV="$HERE/litellm-env.sh" ./gateway_bench.sh litellm "$BASE" /health/liveliness -- "${LITELLM_CMD[@]}"
  echo "=== litellm cold starts x$STARTS"
  GATEWAY_ENV="$HERE/litellm-env.sh" STARTUP_LABEL=litellm-start SETTLE_S=2 \
    ./startup_only.sh "$STARTS" "$BASE" /health/liveliness -- "${LITELLM_CMD[@]}"
fi

if [[ "${SKIP_FLOOR:-0}" != 1 ]]; then
  # floor.sh starts and stops the mock itself; LMGATE_REF's PYTHONPATH carries over to its lmgate
  ./mock/mock.sh stop >/dev/null 2>&1 || true
  echo "=== lmgate (virtual key with rpm, tpm and a budget) vs the Python floor, alternating"
  ROUNDS="${FLOOR_ROUNDS:-3}" ./floor.sh | tee "$RESULTS_DIR/floor.txt"
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RESULTS_DIR/env.txt"
echo "=== summary"
{ sed 's/^/    /' "$RESULTS_DIR/env.txt"; echo; python3 ./summarize.py "$RESULTS_DIR"; } | tee "$RESULTS_DIR/summary.md"
echo "(raw output in $RESULTS_DIR)"
