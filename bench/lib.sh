# Shared by the bench drivers: `source "$HERE/lib.sh"`.

# ensure_tools TOOL...: install the missing ones with apt-get (taskset comes from util-linux), then
# put /usr/sbin (nginx) on PATH.
ensure_tools() {
  local missing=() pkgs=() t SUDO=()
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || [[ -x "/usr/sbin/$t" ]] || missing+=("$t")
  done
  if (( ${#missing[@]} )); then
    for t in "${missing[@]}"; do [[ $t == taskset ]] && pkgs+=(util-linux) || pkgs+=("$t"); done
    echo "installing: ${pkgs[*]}" >&2
    [[ $(id -u) != 0 ]] && SUDO=(sudo)
    if ! "${SUDO[@]}" apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1; then
      "${SUDO[@]}" apt-get update -q >/dev/null
      "${SUDO[@]}" apt-get install -y -q "${pkgs[@]}" >/dev/null
    fi
  fi
  export PATH="$PATH:/usr/sbin"
}
