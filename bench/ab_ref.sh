#!/usr/bin/env bash
# Two commits (or this tree and a commit), alternating (bench/ab.sh has the method):
#   bash bench/ab_ref.sh REF_B [REF_A]     A defaults to this working tree (its .venv)
# Each REF is checked out into a throw-away worktree with its own virtualenv; both run
# bench/lmgate-bench.yaml with the request log on (every feature on, as users run it), each writing its
# own log. Traffic to 127.0.0.1 only.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/.." && pwd)"
REF_B="${1:-main~1}"; REF_A="${2:-}"
WORK="$(mktemp -d /tmp/lmgate-abref-XXXX)"
cleanup() {
  for side in a b; do git -C "$REPO" worktree remove --force "$WORK/$side" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
checkout() {  # side ref -> path of its lmgate
  git -C "$REPO" worktree add -q --detach "$WORK/$1" "$2"
  python3 -m venv "$WORK/$1/.venv"
  "$WORK/$1/.venv/bin/pip" install -q "$WORK/$1" >/dev/null 2>&1
  echo "$WORK/$1/.venv/bin/lmgate"
}
B_BIN=$(checkout b "$REF_B")
if [[ -n $REF_A ]]; then A_BIN=$(checkout a "$REF_A"); A_DESC="$REF_A ($(git -C "$REPO" rev-parse --short "$REF_A"))"
else A_BIN="$REPO/.venv/bin/lmgate"; A_DESC="this tree ($(git -C "$REPO" rev-parse --short HEAD))"; fi
for side in a b; do
  cp "$HERE/lmgate-bench.yaml" "$WORK/$side.yaml"
  printf '  request_log_path: %s/%s-requests.jsonl\n' "$WORK" "$side" >>"$WORK/$side.yaml"
done
echo "A = $A_DESC, B = $REF_B ($(git -C "$REPO" rev-parse --short "$REF_B"))"
A_NAME=A A_BIN="$A_BIN" A_CONFIG="$WORK/a.yaml" B_NAME=B B_BIN="$B_BIN" B_CONFIG="$WORK/b.yaml" bash "$HERE/ab.sh"
