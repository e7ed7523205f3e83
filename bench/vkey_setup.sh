# Shared by floor.sh and profile.sh: `source "$HERE/vkey_setup.sh" WORKDIR` writes WORKDIR/gate.yaml
# (the bench config with a price on both models, so a budget is reserved and settled per request, and
# the request log in WORKDIR) and sets BENCH_KEY: with KEY=virtual (the default) a new virtual key with
# an rpm limit, a tpm limit and a budget far above anything a run sends; with KEY=master the master key.
# LMGATE_STATE_DIR is set to WORKDIR/state (the keys' SQLite file).
_vk_work="$1"
sed -e 's|^      api_key: sk-fake|      api_key: sk-fake\n    model_info: {input_cost_per_token: 0.0000001, output_cost_per_token: 0.0000002}|' \
  "$HERE/lmgate-bench.yaml" >"$_vk_work/gate.yaml"
printf '  request_log_path: %s/requests.jsonl\n' "$_vk_work" >>"$_vk_work/gate.yaml"
export LMGATE_STATE_DIR="$_vk_work/state"
BENCH_KEY=sk-bench
if [[ ${KEY:-virtual} == virtual ]]; then
  BENCH_KEY=$("$REPO/.venv/bin/lmgate" keys create --config "$_vk_work/gate.yaml" --alias bench-floor --models 'bench-*' \
    --rpm-limit 100000000 --tpm-limit 1000000000 --max-budget 1000000 --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
fi
