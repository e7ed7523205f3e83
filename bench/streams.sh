#!/usr/bin/env bash
# Slow streams at scale (issue 26): lmgate and the LiteLLM proxy against one trickling nginx upstream.
#   bash bench/streams.sh                          # 250, 1000 and 2000 concurrent streams
#   STREAMS="1000" SKIP_LITELLM=1 bash bench/streams.sh
# Env: STREAMS, RATE (events/s per stream, 20), EVENTS (per stream, 60), EVENT_BYTES (190),
#      SKIP_LITELLM=1, LITELLM_VENV (/tmp/litellm-venv, filled on first use), OUT (results dir).
# What each path means and how the CPUs are split: bench/streams_bench.py's docstring.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
source "$HERE/lib.sh"
ensure_tools nginx taskset
[[ -x "$REPO/.venv/bin/lmgate" ]] || make -C "$REPO" .venv/.installed-stamp
LITELLM_VENV="${LITELLM_VENV:-/tmp/litellm-venv}"
if [[ "${SKIP_LITELLM:-0}" != 1 && ! -x "$LITELLM_VENV/bin/litellm" ]]; then
  echo "installing LiteLLM into $LITELLM_VENV (takes a few minutes)" >&2
  python3 -m venv "$LITELLM_VENV"
  cap="$(mktemp)"; echo 'certifi<=2026.10.18' > "$cap"   # newer LiteLLM releases pin a certifi the index may lack
  "$LITELLM_VENV/bin/pip" install -q 'litellm[proxy]' -c "$cap"
fi
ulimit -n "$(ulimit -Hn)"
exec "$REPO/.venv/bin/python" "$HERE/streams_bench.py"
