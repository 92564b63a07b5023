"""bench/kernels_aot.py: a kit compiled ahead of time for a named CPU (here
one this host runs, x86-64-v3) runs its correctness cases exactly with
Python and numpy alone, and a wrong result is reported."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

SOURCE = os.environ.get("QUANTX_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("QUANTX_BINARY_DIR", os.path.join(SOURCE, "build"))
SCRIPT = os.path.join(SOURCE, "bench", "kernels_aot.py")


def host_has_avx2():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(l for l in f if l.startswith("flags")).split()
    except (OSError, StopIteration):
        return False
    return "avx2" in flags and "fma" in flags


pytestmark = pytest.mark.skipif(
    not host_has_avx2() or not os.path.exists(
        os.path.join(BUILD, "lib", "libquantx_peaks.so")),
    reason="needs an AVX2 host and the benchmark libraries")


def run_kit(kit):
    # A clean environment: the run step needs no quantx Python package.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, SCRIPT, "run", str(kit),
                           "--check-only"], capture_output=True, text=True,
                          env=env)


def test_kit_builds_and_checks(tmp_path):
    kit = tmp_path / "kit"
    subprocess.run([sys.executable, SCRIPT, "build", str(kit), "--target-cpu",
                    "x86-64-v3", "--build-dir", BUILD], check=True,
                   capture_output=True)
    meta = json.loads((kit / "kit.json").read_text())
    assert meta["instructions"]["vpmaddwd"] > 0
    assert meta["instructions"]["vpdpbusd_zmm"] == 0
    r = run_kit(kit)
    assert r.returncode == 0, r.stdout + r.stderr
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert figures["correctness_cases"] == len(meta["cases"]) == 43
    assert figures["correctness_cases_all_exact"] is True

    # The reference copy of weights compiled into the kit changed after the
    # fact: that case must fail, the others pass, and the exit status says
    # so.
    cases = dict(np.load(kit / "cases.npz"))
    name = "const_7x70x40"
    cases[f"{name}.b"] = cases[f"{name}.b"].copy()
    cases[f"{name}.b"][0, 0] ^= 1
    np.savez(kit / "cases.npz", **cases)
    r = run_kit(kit)
    assert r.returncode == 1
    assert f"FAILED: {name}" in r.stdout
    assert "42/43 cases exact" in r.stdout


def test_unknown_cpu_is_an_error(tmp_path):
    r = subprocess.run([sys.executable, SCRIPT, "build", str(tmp_path / "k"),
                        "--target-cpu", "pentium9", "--build-dir", BUILD],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert "unknown x86-64 CPU 'pentium9'" in r.stderr
