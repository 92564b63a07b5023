#!/usr/bin/env bash
#===- test.sh - Install, build and run every test ------------------------===#
#
# Installs what is missing (scripts/bootstrap.sh), builds (scripts/build.sh)
# and runs the whole suite through one ctest: the lit suite, the GoogleTest
# suites, the docs-up-to-date checks and the Python tests.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/bootstrap.sh"
bash "$root/scripts/build.sh"
cd "${QUANTX_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j2
