#!/usr/bin/env bash
# This tree (HEAD, or the working tree) against another commit, alternating (bench/ab.sh has the method):
#   bash bench/ab_ref.sh [REF=origin/main or main~1]
# REF is checked out into a throw-away worktree with its own virtualenv; both run bench/lmgate-bench.yaml
# with the request log on (every feature on, as users run it). Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
REF="${1:-main~1}"
WORK="$(mktemp -d /tmp/lmgate-abref-XXXX)"
cleanup() { git -C "$REPO" worktree remove --force "$WORK/ref" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
git -C "$REPO" worktree add -q --detach "$WORK/ref" "$REF"
python3 -m venv "$WORK/ref/.venv"
"$WORK/ref/.venv/bin/pip" install -q "$WORK/ref" >/dev/null 2>&1
for side in head ref; do  # each its own request log
  cp "$HERE/lmgate-bench.yaml" "$WORK/$side.yaml"
  printf '  request_log_path: %s/%s-requests.jsonl\n' "$WORK" "$side" >>"$WORK/$side.yaml"
done
echo "A = this tree ($(git -C "$REPO" rev-parse --short HEAD)), B = $REF ($(git -C "$REPO" rev-parse --short "$REF"))"
A_NAME=head A_BIN="$REPO/.venv/bin/lmgate" A_CONFIG="$WORK/head.yaml" \
B_NAME=ref B_BIN="$WORK/ref/.venv/bin/lmgate" B_CONFIG="$WORK/ref.yaml" bash "$HERE/ab.sh"
