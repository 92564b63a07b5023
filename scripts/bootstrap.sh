#!/usr/bin/env bash
#===- bootstrap.sh - Install what QuantX needs on Debian 12 --------------===#
#
# Idempotent: installs only the missing Debian packages and Python packages,
# and prints nothing when everything is already present. Creates the project
# virtual environment .venv (Debian's python3 with its site packages, so
# python3-torch and numpy come from Debian; pinned PyPI extras on top).
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

debian_packages=(
  cmake ninja-build ccache
  clang-22 lld-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libeigen3-dev libopenblas-dev libopenblas0-pthread liblapacke-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  pybind11-dev python3-dev python3-venv python3-pip python3-numpy
  python3-pytest python3-torch
  zlib1g-dev libzstd-dev
  pkg-config libomp-22-dev
  dataset-fashion-mnist r-cran-janeaustenr r-base-core
)

missing=()
for p in "${debian_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "bootstrap: creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
req="$root/python/requirements.txt"
stamp="$venv/.requirements.sha"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing Python requirements"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$root/python/constraints.txt" -r "$req"
  echo "$want" >"$stamp"
fi
