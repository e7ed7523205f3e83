#!/usr/bin/env bash
# Start/stop the nginx mock upstream (127.0.0.1:18080, :18081; Ollama :18082 NDJSON, :18083 JSON). Usage: mock.sh start|stop|status
# Optional: MOCK_CPU=0 pins nginx (master+worker) to that CPU with taskset; BENCH_NGINX_PREFIX (run
# state dir, default /tmp/bench-nginx) and BENCH_MOCK_PORT_OFFSET (e.g. 100: ports 18180..18183) let a
# second mock run beside the default one.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${BENCH_NGINX_PREFIX:-/tmp/bench-nginx}"
case "${1:-}" in
  start)
    mkdir -p "$PREFIX"
    BENCH_NGINX_PREFIX="$PREFIX" python3 "$HERE/gen_mock.py" >/dev/null
    nginx -t -q -p "$PREFIX/" -c "$PREFIX/nginx.conf"
    if [[ -n "${MOCK_CPU:-}" ]]; then taskset -c "$MOCK_CPU" nginx -p "$PREFIX/" -c "$PREFIX/nginx.conf"
    else nginx -p "$PREFIX/" -c "$PREFIX/nginx.conf"; fi
    for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$((18080 + ${BENCH_MOCK_PORT_OFFSET:-0}))/health" && break; sleep 0.1; done
    echo "mock nginx master pid $(cat "$PREFIX/nginx.pid")" ;;
  stop)
    if [[ -f "$PREFIX/nginx.pid" ]]; then kill -QUIT "$(cat "$PREFIX/nginx.pid")"; echo stopped; fi ;;
  status)
    [[ -f "$PREFIX/nginx.pid" ]] && ps -o pid,ppid,rss,args --ppid "$(cat "$PREFIX/nginx.pid")" -p "$(cat "$PREFIX/nginx.pid")" || echo "not running" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
