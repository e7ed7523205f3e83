#!/usr/bin/env bash
# Time N cold starts of a gateway to its first 200 on HEALTH_PATH, and the idle RSS after SETTLE_S.
#   usage: startup_only.sh N BASE_URL HEALTH_PATH -- gateway command...
# Same env as gateway_bench.sh (GATEWAY_CPU, GATEWAY_ENV, SETTLE_S); STARTUP_LABEL prefixes the
# labels written to gateways.tsv (default "startup"). Runs no load.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
N="$1"; shift
for i in $(seq "$N"); do
  MODES="" REPEATS=0 TTFB_N=0 "$HERE/gateway_bench.sh" "${STARTUP_LABEL:-startup}$i" "$@" | grep -E 'startup_s|rss_idle'
done
