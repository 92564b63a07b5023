#!/usr/bin/env bash
#===- run-example.sh - Install, build and run the embedded example -------===#
#
# Installs what is missing, builds, then runs examples/quantize_example.py:
# a small model layer quantized with every method of the numeric core and
# the GGUF codecs, plus the upstream-quant interop through quantx-opt; then
# examples/ptq_fashion_cnn.py: post-training quantization of the trained
# Fashion-MNIST CNN (import, calibrate, int8, accuracy/size/latency report).
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
bash "$root/scripts/build.sh" >/dev/null
build="${QUANTX_BUILD_DIR:-$root/build}"
PYTHONPATH="$build/python_packages" "$root/.venv/bin/python" \
  "$root/examples/quantize_example.py" --build-dir "$build" "$@"
PYTHONPATH="$build/python_packages" "$root/.venv/bin/python" \
  "$root/examples/ptq_fashion_cnn.py"
